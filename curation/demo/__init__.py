"""The demo project that `make run` loads: users, seed sets of every kind the recipes read,
a few ready samples in a review queue, and the local model as the endpoint.

It sits above every other curation app (it imports seeds, review and exports) and nothing
imports it. The data files in `data/` were written for Seedbed.
"""
