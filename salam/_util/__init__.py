"""Small helpers with no salam concepts in them: where files live, templates, JSON(L) files, quiet libraries."""
