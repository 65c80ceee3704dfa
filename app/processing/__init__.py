"""Pre- and post-processing shared by training and serving (numpy and Pillow only, no torch).

Training imports this package, so the two sides cannot drift apart.
"""
