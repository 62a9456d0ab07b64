"""Training data of the design text model (real labelled abstracts); `python -m review.classify.training` rebuilds it."""
