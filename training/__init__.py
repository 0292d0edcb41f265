"""Training the extractive reader that ``qa.reader`` runs.

The top layer of the project (index <- qa <- eval <- training): it builds
training examples with the product's own chunking and retrieval, fine-tunes
the packaged MiniLM with span heads and a no-answer score, exports it to the
int8 ONNX files ``qa.reader`` loads, and chooses the answer threshold on
held-out articles. ``seedqa train-reader`` runs it.
"""
