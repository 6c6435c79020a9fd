"""``salam view``: a local web app over runs, training folders and the mistake memory (see :mod:`salam.view.app`)."""
