"""Results the seed documents printed, reproduced with our building blocks."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from app.processing.text import CharVocab, source_text
from training.data.pairs import SEED_PAIRS
from training.nets import Translator
from training.train import encode_pairs


def unit_rnn(nonlinearity: str) -> nn.RNN:
    rnn = nn.RNN(2, 2, nonlinearity=nonlinearity, bias=False, batch_first=True)
    with torch.no_grad():
        rnn.weight_ih_l0.fill_(1.0)
        rnn.weight_hh_l0.fill_(1.0)
    return rnn


def test_two_unit_rnn_with_unit_weights() -> None:
    # The seed printed the sum over both units at each step.
    inputs = torch.tensor([[[1.0, 1.0], [1.0, 1.0], [2.0, 2.0]]])
    with torch.no_grad():
        linear, _ = unit_rnn("relu")(inputs)  # all values stay positive, so relu is the identity here
        tanh, _ = unit_rnn("tanh")(inputs)
    assert linear[0].sum(1).tolist() == [4.0, 12.0, 32.0]
    np.testing.assert_allclose(
        tanh[0].sum(1).double().numpy(), [1.9280551601516338, 1.9984510891336251, 1.9999753470497836], atol=1e-6
    )


def test_lstm_from_gate_equations_equals_nn_lstm() -> None:
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    expected, _ = lstm(x)
    w_ih, w_hh = lstm.weight_ih_l0, lstm.weight_hh_l0
    b = lstm.bias_ih_l0 + lstm.bias_hh_l0
    h = torch.zeros(2, 4)
    c = torch.zeros(2, 4)
    outputs = []
    for t in range(5):
        gates = x[:, t] @ w_ih.T + h @ w_hh.T + b
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs.append(h)
    torch.testing.assert_close(torch.stack(outputs, 1), expected, atol=1e-6, rtol=1e-5)


def test_hello_to_ohlol_with_an_embedding() -> None:
    torch.manual_seed(0)
    chars = sorted(set("hello"))
    source = torch.tensor([[chars.index(c) for c in "hello"]])
    target = torch.tensor([chars.index(c) for c in "ohlol"])
    embed, rnn, head = nn.Embedding(len(chars), 8), nn.RNN(8, 16, batch_first=True), nn.Linear(16, len(chars))
    params = [*embed.parameters(), *rnn.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=0.05)
    for _ in range(200):
        out, _ = rnn(embed(source))
        loss = F.cross_entropy(head(out[0]), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    out, _ = rnn(embed(source))
    assert "".join(chars[i] for i in head(out[0]).argmax(1).tolist()) == "ohlol"


def test_seq2seq_learns_the_six_word_pairs() -> None:
    torch.manual_seed(0)
    pairs = SEED_PAIRS[:6]
    source_vocab = CharVocab.build(source_text(s, False) for s, _ in pairs)
    target_vocab = CharVocab.build(t for _, t in pairs)
    model = Translator(source_vocab.size, target_vocab.size, embed=16, hidden=32, decoder_hidden=64)
    ids, lengths, target_in, target_out = encode_pairs([(s, None, t) for s, t in pairs], source_vocab, target_vocab,
                                                       lowercase=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(150):
        loss = F.nll_loss(model(ids, lengths, target_in).flatten(0, 1), target_out.flatten(), ignore_index=0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    predicted = model(ids, lengths, target_in).argmax(2)
    assert [target_vocab.decode(p.tolist()) for p in predicted] == [t for _, t in pairs]


def test_rnn_maps_sine_windows_to_cosine() -> None:
    torch.manual_seed(0)
    t = torch.linspace(0, 8 * np.pi, 400)
    x, y = torch.sin(t), torch.cos(t)
    windows = torch.stack([x[i : i + 20] for i in range(0, 380, 2)]).unsqueeze(2)
    targets = torch.stack([y[i : i + 20] for i in range(0, 380, 2)]).unsqueeze(2)
    rnn, head = nn.RNN(1, 16, batch_first=True), nn.Linear(16, 1)
    optimizer = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=0.01)
    for _ in range(300):
        out, _ = rnn(windows)
        loss = F.mse_loss(head(out)[:, 5:], targets[:, 5:])  # a few steps to pick up the phase
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.005


def test_rnn_learns_8_bit_binary_addition() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    def bits(n: np.ndarray) -> np.ndarray:  # least significant bit first, as the carry travels
        return ((n[:, None] >> np.arange(8)) & 1).astype(np.float32)

    a, b = rng.integers(0, 128, 3000), rng.integers(0, 128, 3000)
    held = {(int(x), int(y)) for x, y in zip(a[:200], b[:200], strict=True)}
    train_mask = np.array([(int(x), int(y)) not in held for x, y in zip(a, b, strict=True)])
    train_mask[:200] = False
    x = torch.from_numpy(np.stack([bits(a), bits(b)], axis=2))
    y = torch.from_numpy(bits(a + b))
    rnn, head = nn.RNN(2, 16, batch_first=True), nn.Linear(16, 1)
    optimizer = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=0.01)
    train = torch.from_numpy(train_mask)
    for _ in range(300):
        out, _ = rnn(x[train])
        loss = F.binary_cross_entropy_with_logits(head(out).squeeze(2), y[train])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    out, _ = rnn(x[:200])
    predicted = (head(out).squeeze(2) > 0).float()
    assert torch.equal(predicted, y[:200])
