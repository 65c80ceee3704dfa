"""seqserve: a model server for small recurrent sequence models."""

__version__ = "0.1.0"
