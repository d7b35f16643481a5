# amaranth: UnusedElaboratable=no
import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, signed
from amaranth.lib import memory, wiring

from homeo_hw.config import RegulatorConfig
from homeo_hw.golden.margin_comparator import ABOVE, BELOW, IN_BAND
from homeo_hw.golden.weight_scaler import scale_weights
from homeo_hw.synaptic_scaler import SynapticScaler, class_layout
from tests.sim import assert_array_equal, assert_value_equal, read_memory, run_simulation


class ScalerHarness(Elaboratable):
    """A :class:`SynapticScaler` on a weight memory initialised with ``weights``, and on a class
    memory."""

    def __init__(self, config, weights):
        n_pre, n_neurons = weights.shape
        assert n_neurons == config.n_neurons
        self.dut = SynapticScaler(config, n_pre)
        self.memory = memory.Memory(shape=signed(config.weight_width), depth=weights.size,
                                    init=[int(weight) for weight in weights.ravel()])
        self.class_memory = memory.Memory(shape=class_layout(), depth=n_neurons, init=[])

    def elaborate(self, platform):
        m = Module()
        m.submodules.memory = self.memory
        m.submodules.class_memory = self.class_memory
        m.submodules.dut = self.dut
        wiring.connect(m, self.memory.read_port(), self.dut.read)
        wiring.connect(m, self.memory.write_port(), self.dut.write)
        wiring.connect(m, self.class_memory.read_port(), self.dut.classes)
        return m


def write_classes(ctx, harness, classes):
    """Store golden classes (``ABOVE``, ``IN_BAND``, ``BELOW``) in the class memory."""
    for post, value in enumerate(classes):
        ctx.set(harness.class_memory.data[post],
                {"above": int(value == ABOVE), "below": int(value == BELOW)})


async def run_pass(ctx, harness, classes):
    """Store ``classes``, pulse ``start`` and wait for ``done``.

    Returns the number of cycles that ``busy`` was high, that ``read.en``, ``classes.en`` and
    ``write.en`` were high meanwhile and in the two cycles after, and that ``done`` was high in
    those two cycles. Checks that every class read addresses the post neuron of the weight read
    beside it.
    """
    dut = harness.dut
    n_neurons = dut.config.n_neurons
    write_classes(ctx, harness, classes)
    ctx.set(dut.start, 1)
    await ctx.tick()
    ctx.set(dut.start, 0)
    busy_cycles = read_cycles = class_cycles = write_cycles = done_cycles = 0

    def count_enables():
        nonlocal read_cycles, class_cycles, write_cycles
        read_cycles += ctx.get(dut.read.en)
        class_cycles += ctx.get(dut.classes.en)
        write_cycles += ctx.get(dut.write.en)
        if ctx.get(dut.classes.en):
            post = ctx.get(dut.read.addr) % n_neurons
            assert ctx.get(dut.classes.addr) == post, (
                f"class read of neuron {ctx.get(dut.classes.addr)} beside the weight read of "
                f"address {ctx.get(dut.read.addr)}, post neuron {post}")

    while ctx.get(dut.busy):
        assert not ctx.get(dut.done), f"done is high in busy cycle {busy_cycles}"
        busy_cycles += 1
        count_enables()
        await ctx.tick()
    for _ in range(2):
        count_enables()
        done_cycles += ctx.get(dut.done)
        await ctx.tick()
    return busy_cycles, read_cycles, class_cycles, write_cycles, done_cycles


def simulate_passes(config, weights, classes_per_pass):
    """Run one pass per entry of ``classes_per_pass`` and return the weights after each."""
    harness = ScalerHarness(config, weights)
    results = []
    pass_cycles = []

    async def testbench(ctx):
        for classes in classes_per_pass:
            cycles = await run_pass(ctx, harness, classes)
            results.append(read_memory(ctx, harness.memory, weights.shape))
            pass_cycles.append(cycles)

    run_simulation(harness, testbench)
    return harness.dut, results, pass_cycles


def check_passes(config, weights, classes_per_pass, context):
    dut, actual, pass_cycles = simulate_passes(config, weights, classes_per_pass)
    expected = weights
    for index, classes in enumerate(classes_per_pass):
        expected = scale_weights(expected, classes, config)
        pass_context = f"{context}, pass {index}"
        assert_array_equal(actual[index], expected, field="weight", axes=("pre", "post"),
                           context=pass_context)

        busy_cycles, read_cycles, class_cycles, write_cycles, done_cycles = pass_cycles[index]
        assert_value_equal(busy_cycles, dut.pass_cycles, field="busy cycles",
                           context=pass_context)
        assert_value_equal(read_cycles, dut.depth, field="read enable cycles",
                           context=pass_context)
        assert_value_equal(class_cycles, dut.depth, field="class read enable cycles",
                           context=pass_context)
        assert_value_equal(write_cycles, dut.depth, field="write enable cycles",
                           context=pass_context)
        assert_value_equal(done_cycles, 1, field="done cycles", context=pass_context)


def random_classes(config, rng):
    return rng.choice([ABOVE, IN_BAND, BELOW], size=config.n_neurons)


# Weight matrices of n_pre x n_neurons, including a single post neuron and a single pre neuron.
CONFIGS = {
    "6x8 width 8 shift 4": (RegulatorConfig(), 6),
    "5x3 width 4 shift 1": (RegulatorConfig(n_neurons=3, weight_width=4, scale_shift=1,
                                            prune_shift=4), 5),
    "4x5 width 12 shift 2": (RegulatorConfig(n_neurons=5, weight_width=12, scale_shift=2), 4),
    "9x1 width 8 shift 7": (RegulatorConfig(n_neurons=1, scale_shift=7), 9),
    "1x8 width 8 shift 1": (RegulatorConfig(scale_shift=1), 1),
}


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_synaptic_scaler_random_classes(name, seed):
    config, n_pre = CONFIGS[name]
    rng = np.random.default_rng(seed)
    weights = rng.integers(config.weight_min, config.weight_max + 1,
                           size=(n_pre, config.n_neurons))
    classes_per_pass = [random_classes(config, rng) for _ in range(3)]
    check_passes(config, weights, classes_per_pass, f"{name}, seed {seed}")


@pytest.mark.parametrize("name", CONFIGS)
def test_synaptic_scaler_range_ends(name):
    # Rows of the most negative and most positive weights, magnitude one and zero, so scaling
    # up saturates and scaling down meets the rounding toward zero.
    config, _ = CONFIGS[name]
    row_values = [config.weight_min, config.weight_min + 1, -1, 0, 1, config.weight_max - 1,
                  config.weight_max]
    weights = np.repeat(np.array(row_values)[:, np.newaxis], config.n_neurons, axis=1)
    every_class = np.resize([ABOVE, IN_BAND, BELOW], config.n_neurons)
    classes_per_pass = [
        every_class,
        np.full(config.n_neurons, BELOW),
        np.full(config.n_neurons, BELOW),
        np.full(config.n_neurons, ABOVE),
    ]
    check_passes(config, weights, classes_per_pass, name)


def test_synaptic_scaler_start_during_pass_ignored():
    config, n_pre = CONFIGS["6x8 width 8 shift 4"]
    rng = np.random.default_rng(7)
    weights = rng.integers(config.weight_min, config.weight_max + 1, size=(n_pre, 8))
    classes = random_classes(config, rng)
    harness = ScalerHarness(config, weights)
    result = {}

    async def testbench(ctx):
        dut = harness.dut
        write_classes(ctx, harness, classes)
        ctx.set(dut.start, 1)
        await ctx.tick()
        # start stays high for the whole pass: the pass neither restarts nor repeats.
        busy_cycles = 0
        while ctx.get(dut.busy):
            busy_cycles += 1
            await ctx.tick()
        ctx.set(dut.start, 0)
        result["busy_cycles"] = busy_cycles
        result["weights"] = read_memory(ctx, harness.memory, weights.shape)

    run_simulation(harness, testbench)
    assert_value_equal(result["busy_cycles"], harness.dut.pass_cycles, field="busy cycles",
                       context="start held high during the pass")
    assert_array_equal(result["weights"], scale_weights(weights, classes, config), field="weight",
                       axes=("pre", "post"), context="start held high during the pass")


def test_synaptic_scaler_pass_cycles():
    scaler = SynapticScaler(RegulatorConfig(n_neurons=3), n_pre=5)
    assert scaler.depth == 15
    assert scaler.pass_cycles == 15 + scaler.write_latency


def test_synaptic_scaler_rejects_non_config():
    with pytest.raises(TypeError, match=r"config must be a RegulatorConfig, not None"):
        SynapticScaler(None, 4)


def test_synaptic_scaler_rejects_non_integer_n_pre():
    with pytest.raises(TypeError, match=r"n_pre must be an integer, not 2\.0"):
        SynapticScaler(RegulatorConfig(), 2.0)


def test_synaptic_scaler_rejects_bool_n_pre():
    with pytest.raises(TypeError, match=r"n_pre must be an integer, not True"):
        SynapticScaler(RegulatorConfig(), True)


def test_synaptic_scaler_rejects_zero_n_pre():
    with pytest.raises(ValueError, match=r"n_pre must be at least 1, not 0"):
        SynapticScaler(RegulatorConfig(), 0)
