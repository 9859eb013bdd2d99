"""Samachar QA: question answering over Hindi news articles."""
