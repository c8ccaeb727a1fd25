"""One driver per network for the contract suite: a person there, and a reader of what the
bot posted (see base.py)."""
