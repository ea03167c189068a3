"""Small policy-value graph network over the clique-game board encoding (see ``encoding.py``)."""
