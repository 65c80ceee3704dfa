"""seqserve: a model server for small recurrent sequence models."""
