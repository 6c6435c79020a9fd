"""Feedback modules for TriPosT: exact step checkers for tasks whose steps can be verified (``script``)."""
