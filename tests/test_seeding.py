"""dllab.seeding: one rule derives every random stream from (run seed, name)."""

import numpy as np
import pytest
import torch

from dllab import seeding


def test_same_seed_and_name_give_the_same_stream_and_other_names_other_streams():
    a = seeding.rng(0, "batches", 3).random(5)
    assert np.array_equal(a, seeding.rng(0, "batches", 3).random(5))
    for other in (seeding.rng(1, "batches", 3), seeding.rng(0, "batches", 4), seeding.rng(0, "labels", 3),
                  seeding.rng(0, "batches", "3"), seeding.rng(0, "batches", 3.0), seeding.rng(0, "batches")):
        assert not np.array_equal(a, other.random(5))


def test_streams_are_independent_of_how_many_numbers_others_drew():
    first = seeding.rng(7, "init").random(3)
    seeding.rng(7, "batches", 1).random(10_000)
    assert np.array_equal(first, seeding.rng(7, "init").random(3))


def test_torch_generator_and_int_seed_follow_the_rule():
    g1, g2 = seeding.torch_generator(0, "epoch", 1), seeding.torch_generator(0, "epoch", 1)
    assert torch.equal(torch.randperm(100, generator=g1), torch.randperm(100, generator=g2))
    assert 0 <= seeding.int_seed(5, "x") < 2**63 and seeding.int_seed(5, "x") != seeding.int_seed(5, "y")
    assert seeding.int_seed(2**40, "x") != seeding.int_seed(0, "x")  # the high bits of the seed count too


def test_torch_stream_does_not_disturb_the_callers_generator():
    seeding.seed_everything(11)
    expected = torch.rand(3)
    seeding.seed_everything(11)
    with seeding.torch_stream(0, "init"):
        w1 = torch.nn.Linear(4, 4).weight.detach().clone()
    assert torch.equal(torch.rand(3), expected)
    with seeding.torch_stream(0, "init"):
        assert torch.equal(torch.nn.Linear(4, 4).weight, w1)


def test_names_are_strings_and_numbers():
    with pytest.raises(TypeError):
        seeding.rng(0, ["a"])
    with pytest.raises(TypeError):
        seeding.rng(0, True)
