# amaranth: UnusedElaboratable=no
from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, signed
from amaranth.lib import memory, wiring

from homeo_hw.config import RegulatorConfig
from homeo_hw.golden.sleep_pruner import exp2_fixed, log2_fixed, prune_weights
from homeo_hw.log2 import Exp2, Log2, log_width
from homeo_hw.sleep_pruner import SleepPruner
from tests.sim import assert_array_equal, assert_value_equal, read_memory, run_simulation


class SleepHarness(Elaboratable):
    """A :class:`SleepPruner` on a weight memory of ``shape``, initialised with zeros."""

    def __init__(self, config, shape):
        self.shape = shape
        self.dut = SleepPruner(config, int(np.prod(shape)))
        self.memory = memory.Memory(shape=signed(config.weight_width), depth=self.dut.depth,
                                    init=[])

    def elaborate(self, platform):
        m = Module()
        m.submodules.memory = self.memory
        m.submodules.dut = self.dut
        wiring.connect(m, self.memory.read_port(), self.dut.read)
        wiring.connect(m, self.memory.write_port(), self.dut.write)
        return m


@dataclass
class PassResult:
    weights: np.ndarray
    pruned: int
    max_magnitude: int
    busy_cycles: int
    done_cycles: int
    read_cycles: int
    write_cycles: int


async def run_pass(ctx, harness, weights, *, restart_when_busy=False):
    """Load ``weights`` into the memory, run one sleep pass and collect what the block did.

    With ``restart_when_busy``, ``start`` stays high for the whole pass, which must be ignored.
    """
    dut = harness.dut
    for address, weight in enumerate(weights.ravel()):
        ctx.set(harness.memory.data[address], int(weight))

    ctx.set(dut.start, 1)
    await ctx.tick()
    ctx.set(dut.start, int(restart_when_busy))
    busy_cycles = read_cycles = write_cycles = 0
    while ctx.get(dut.busy):
        assert not ctx.get(dut.done), f"done is high in busy cycle {busy_cycles}"
        read_cycles += ctx.get(dut.read.en)
        write_cycles += ctx.get(dut.write.en)
        busy_cycles += 1
        await ctx.tick()
    ctx.set(dut.start, 0)

    # Every write has completed by the done cycle, so the memory contains the final weights.
    done_cycles = ctx.get(dut.done)
    read_cycles += ctx.get(dut.read.en)
    write_cycles += ctx.get(dut.write.en)
    result = PassResult(
        weights=read_memory(ctx, harness.memory, harness.shape),
        pruned=ctx.get(dut.pruned),
        max_magnitude=ctx.get(dut.max_magnitude),
        busy_cycles=busy_cycles,
        done_cycles=done_cycles,
        read_cycles=read_cycles,
        write_cycles=write_cycles,
    )
    await ctx.tick()
    result.done_cycles += ctx.get(dut.done)
    result.read_cycles += ctx.get(dut.read.en)
    result.write_cycles += ctx.get(dut.write.en)
    return result


def simulate_passes(config, weight_sets):
    """Run one sleep pass on each weight matrix in turn, in one simulation."""
    harness = SleepHarness(config, weight_sets[0].shape)
    results = []

    async def testbench(ctx):
        for weights in weight_sets:
            results.append(await run_pass(ctx, harness, weights))

    run_simulation(harness, testbench)
    return harness.dut, results


def check_pass(dut, result, weights, config, context):
    """Compare one pass with :func:`prune_weights`, and its timing with the documented figures."""
    expected = prune_weights(weights, config)
    assert_array_equal(result.weights, expected.weights, field="weight", axes=("pre", "post"),
                       context=context)
    assert_value_equal(result.pruned, expected.pruned, field="pruned", context=context)
    assert_value_equal(result.max_magnitude, expected.max_magnitude, field="max_magnitude",
                       context=context)

    # One read per weight and pass, and a write per weight only when some weight is nonzero.
    if expected.max_magnitude == 0:
        expected_busy, expected_reads, expected_writes = dut.scan_cycles, dut.depth, 0
    else:
        expected_busy, expected_reads, expected_writes = dut.pass_cycles, 2 * dut.depth, dut.depth
    assert_value_equal(result.busy_cycles, expected_busy, field="busy cycles", context=context)
    assert_value_equal(result.read_cycles, expected_reads, field="read enable cycles",
                       context=context)
    assert_value_equal(result.write_cycles, expected_writes, field="write enable cycles",
                       context=context)
    assert_value_equal(result.done_cycles, 1, field="done cycles", context=context)


def check_weight_sets(config, weight_sets, context):
    dut, results = simulate_passes(config, weight_sets)
    for index, (weights, result) in enumerate(zip(weight_sets, results, strict=True)):
        check_pass(dut, result, weights, config, f"{context}, weight set {index}")


def weight_config(width, exponent_raw=8, strength_raw=13, prune_shift=4):
    return RegulatorConfig(weight_width=width, scale_shift=min(4, width - 1),
                           decay_exponent_raw=exponent_raw, strength_raw=strength_raw,
                           prune_shift=min(prune_shift, width))


def random_weight_sets(config, rng, shape=(4, 8)):
    """Weights over the whole range, small weights, and sparse weights with many zeros."""
    whole_range = rng.integers(config.weight_min, config.weight_max + 1, size=shape)
    small_limit = 1 << (config.weight_width // 2)
    small = rng.integers(-small_limit, small_limit + 1, size=shape)
    sparse = np.where(rng.random(shape) < 0.7, 0, whole_range[::-1])
    return [whole_range, small, sparse]


def describe(config):
    return (f"width {config.weight_width} exponent {config.decay_exponent_raw}/16 "
            f"strength {config.strength_raw}/16 prune {config.prune_shift}")


# Decay exponents 0, 0.5, 1, 2.5 and 4 (the maximum), strengths 0, 13/16 and 1, and prune shifts
# 0, 4 and the weight width, which prunes nothing by the threshold.
RANDOM_CONFIGS = {
    describe(config): config
    for config in (
        weight_config(width, exponent_raw, strength_raw, prune_shift)
        for width in (4, 8, 12)
        for exponent_raw in (0, 8, 16, 40, 64)
        for strength_raw in (0, 13, 16)
        for prune_shift in (0, 4, width)
    )
}


@pytest.mark.parametrize("name", RANDOM_CONFIGS)
def test_sleep_pruner_random_weights(name):
    config = RANDOM_CONFIGS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    check_weight_sets(config, random_weight_sets(config, rng), name)


EDGE_CONFIGS = {
    describe(config): config
    for config in (
        weight_config(4, exponent_raw=8, strength_raw=13, prune_shift=2),
        weight_config(8),
        weight_config(12, exponent_raw=40, strength_raw=16, prune_shift=12),
    )
}


@pytest.mark.parametrize("name", EDGE_CONFIGS)
def test_sleep_pruner_all_zero_weights(name):
    config = EDGE_CONFIGS[name]
    check_weight_sets(config, [np.zeros((3, 8), dtype=np.int64)], name)


@pytest.mark.parametrize("name", EDGE_CONFIGS)
def test_sleep_pruner_single_nonzero_weight(name):
    config = EDGE_CONFIGS[name]
    weight_sets = []
    for address, weight in [(0, 1), (23, -1), (5, config.weight_max), (17, config.weight_min),
                            (12, 3)]:
        weights = np.zeros((3, 8), dtype=np.int64)
        weights.flat[address] = weight
        weight_sets.append(weights)
    check_weight_sets(config, weight_sets, name)


@pytest.mark.parametrize("name", EDGE_CONFIGS)
def test_sleep_pruner_range_ends(name):
    config = EDGE_CONFIGS[name]
    rng = np.random.default_rng(3)
    weights = rng.integers(config.weight_min, config.weight_max + 1, size=(3, 8))
    weights[0, :4] = config.weight_min
    weights[1, 4:] = config.weight_max
    only_ends = rng.choice([config.weight_min, config.weight_max], size=(3, 8))
    check_weight_sets(config, [weights, only_ends], name)


@pytest.mark.parametrize("name", EDGE_CONFIGS)
def test_sleep_pruner_negative_magnitude_one(name):
    config = EDGE_CONFIGS[name]
    rng = np.random.default_rng(4)
    only_minus_one = np.where(rng.random((3, 8)) < 0.5, -1, 0)
    with_large = only_minus_one.copy()
    with_large[2, 7] = config.weight_max
    plus_and_minus_one = rng.choice([-1, 0, 1], size=(3, 8))
    check_weight_sets(config, [only_minus_one, with_large, plus_and_minus_one], name)


@pytest.mark.parametrize("name", EDGE_CONFIGS)
def test_sleep_pruner_mixed_signs(name):
    # Equal magnitudes with both signs must decay to equal magnitudes.
    config = EDGE_CONFIGS[name]
    rng = np.random.default_rng(5)
    magnitudes = rng.integers(0, config.weight_max + 1, size=(3, 4))
    weights = np.concatenate([magnitudes, -magnitudes], axis=1)
    check_weight_sets(config, [weights], name)


@pytest.mark.parametrize("name", EDGE_CONFIGS)
def test_sleep_pruner_max_from_most_negative(name):
    # max|w| = |weight_min| needs every bit of the unsigned magnitude.
    config = EDGE_CONFIGS[name]
    rng = np.random.default_rng(6)
    weights = rng.integers(config.weight_min // 2, config.weight_max // 2 + 1, size=(3, 8))
    weights[1, 3] = config.weight_min
    negative_only = -rng.integers(0, -config.weight_min + 1, size=(3, 8))
    negative_only[2, 0] = config.weight_min
    check_weight_sets(config, [weights, negative_only], name)


@pytest.mark.parametrize("name", EDGE_CONFIGS)
def test_sleep_pruner_depth_one(name):
    config = EDGE_CONFIGS[name]
    weight_sets = [np.array([[value]]) for value in (0, 1, -1, config.weight_min, 2)]
    check_weight_sets(config, weight_sets, name)


def test_sleep_pruner_ignores_start_when_busy():
    config = weight_config(8)
    rng = np.random.default_rng(8)
    weights = rng.integers(config.weight_min, config.weight_max + 1, size=(2, 8))
    harness = SleepHarness(config, weights.shape)
    results = []

    async def testbench(ctx):
        results.append(await run_pass(ctx, harness, weights, restart_when_busy=True))

    run_simulation(harness, testbench)
    check_pass(harness.dut, results[0], weights, config, "start held high during the pass")


def test_sleep_pruner_back_to_back_passes():
    # A second pass over the result of the first, started in the first pass's done cycle.
    config = weight_config(8, exponent_raw=16, strength_raw=8, prune_shift=3)
    rng = np.random.default_rng(9)
    weights = rng.integers(config.weight_min, config.weight_max + 1, size=(2, 8))
    harness = SleepHarness(config, weights.shape)
    passes = {}

    async def testbench(ctx):
        dut = harness.dut
        for address, weight in enumerate(weights.ravel()):
            ctx.set(harness.memory.data[address], int(weight))
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        await ctx.tick().until(dut.done)
        passes["first"] = read_memory(ctx, harness.memory, weights.shape)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        await ctx.tick().until(dut.done)
        passes["second"] = read_memory(ctx, harness.memory, weights.shape)

    run_simulation(harness, testbench)
    first = prune_weights(weights, config).weights
    second = prune_weights(first, config).weights
    assert_array_equal(passes["first"], first, field="weight", axes=("pre", "post"),
                       context="first pass")
    assert_array_equal(passes["second"], second, field="weight", axes=("pre", "post"),
                       context="second pass, started in the done cycle")


def test_sleep_pruner_pass_cycles():
    pruner = SleepPruner(weight_config(8), depth=40)
    assert pruner.scan_cycles == 40 + 3
    assert pruner.decay_cycles == 40 + pruner.write_latency
    assert pruner.pass_cycles == pruner.scan_cycles + pruner.decay_cycles


@pytest.mark.parametrize("width, frac_bits", [(1, 0), (4, 3), (4, 1), (5, 6), (8, 7), (12, 11)])
def test_log2_every_magnitude(width, frac_bits):
    dut = Log2(width, frac_bits)
    magnitudes = np.arange(1, 1 << width)
    actual = []

    async def testbench(ctx):
        for magnitude in magnitudes:
            ctx.set(dut.magnitude, int(magnitude))
            actual.append(ctx.get(dut.log))

    run_simulation(dut, testbench, clocked=False)
    assert_array_equal(actual, log2_fixed(magnitudes, frac_bits), field="log",
                       axes=("magnitude - 1",), context=f"Log2({width}, {frac_bits})")


@pytest.mark.parametrize("width, frac_bits", [(1, 0), (4, 3), (4, 1), (5, 6), (8, 7), (12, 11)])
def test_exp2_every_log(width, frac_bits):
    # Every log whose integer part is at most width - 1.
    dut = Exp2(width, frac_bits)
    logs = np.arange(width << frac_bits)
    actual = []

    async def testbench(ctx):
        for log in logs:
            ctx.set(dut.log, int(log))
            actual.append(ctx.get(dut.value))

    run_simulation(dut, testbench, clocked=False)
    assert_array_equal(actual, exp2_fixed(logs, frac_bits), field="value", axes=("log",),
                       context=f"Exp2({width}, {frac_bits})")


def test_log_width():
    assert log_width(8, 7) == 3 + 7
    assert log_width(1, 0) == 0


def test_sleep_pruner_rejects_non_config():
    with pytest.raises(TypeError, match=r"config must be a RegulatorConfig, not 'default'"):
        SleepPruner("default", 16)


def test_sleep_pruner_rejects_non_integer_depth():
    with pytest.raises(TypeError, match=r"depth must be an integer, not 16\.0"):
        SleepPruner(RegulatorConfig(), 16.0)


def test_sleep_pruner_rejects_zero_depth():
    with pytest.raises(ValueError, match=r"depth must be at least 1, not 0"):
        SleepPruner(RegulatorConfig(), 0)


def test_log2_rejects_zero_width():
    with pytest.raises(ValueError, match=r"width must be at least 1, not 0"):
        Log2(0, 3)


def test_exp2_rejects_negative_frac_bits():
    with pytest.raises(ValueError, match=r"frac_bits must be at least 0, not -1"):
        Exp2(8, -1)


def test_log2_rejects_non_integer_frac_bits():
    with pytest.raises(TypeError, match=r"frac_bits must be an integer, not 7\.0"):
        Log2(8, 7.0)
