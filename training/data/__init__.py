"""Training data: real MNIST digits, generated sinusoids, generated dates, word pairs. Nothing is downloaded."""
