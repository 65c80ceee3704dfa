"""What each kind of model does around its graphs: check inputs, run a batch, shape the answers.

`predict_batch` runs in a worker thread with the payloads of several requests; it must give each
payload exactly the answer it would get alone.
"""
