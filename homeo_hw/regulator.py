"""The parallel regulator: per-neuron counters and thresholds, population statistics, and the
weight-memory passes of synaptic scaling and sleep."""

from amaranth.hdl import Cat, Module, Signal, signed, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .config import check_config, check_n_pre
from .lr_scaler import LearningRateScaler
from .margin_comparator import MarginComparator
from .rate_counter import RateCounter
from .sleep_pruner import SleepPruner
from .synaptic_scaler import SynapticScaler
from .threshold_adder import ThresholdAdder


__all__ = ["Regulator"]


class Regulator(wiring.Component):
    """Regulate the firing rates of ``n_neurons`` neurons in parallel, all state in flip-flops.

    The regulator computes what :class:`homeo_hw.golden.regulator.IntegerRegulator` computes, bit
    for bit. Every neuron has a :class:`RateCounter`, a :class:`MarginComparator` and a
    :class:`ThresholdAdder`, and one :class:`LearningRateScaler` serves the population.

    Window timing: a cycle with ``spikes_valid`` high carries one timestep. Timesteps may arrive
    in consecutive cycles or with gaps. The ``window``-th timestep of a window, presented in
    cycle ``t``, ends it:

    * at the end of cycle ``t`` the final counts, including that timestep's spikes, are captured
      and the live counters restart at 0, so a timestep in cycle ``t + 1`` is the first of the
      next window;
    * in cycle ``t + 1`` the regulator sums the dispersion ``sum |count - target_count|``;
    * at the end of cycle ``t + 2`` it updates ``thresholds``, ``n_above``, ``n_below``,
      ``dispersion``, ``lr_exponent`` and the classes used by synaptic scaling, all at once;
    * ``window_done`` is high in cycle ``t + 3`` (:attr:`window_latency` cycles after ``t``).
      The results stay on the outputs until the next window's update.

    Weight-memory passes: the weight memory lies outside the regulator. It contains
    ``n_pre * n_neurons`` signed weights, the weight from pre-synaptic neuron ``pre`` onto neuron
    ``post`` at address ``pre * n_neurons + post``. Its read port must be synchronous in the
    ``sync`` domain with one cycle of latency, as :meth:`amaranth.lib.memory.Memory.read_port`
    builds by default, and its transparency does not matter.

    ``scale_start`` runs a :class:`SynapticScaler` pass. It latches, in the start cycle, the
    classes of the last window whose ``window_done`` came in or before that cycle.
    ``sleep_start`` runs a :class:`SleepPruner` pass. A start is accepted only while neither pass
    is busy. When both arrive in the same idle cycle, synaptic scaling starts and the sleep
    request is ignored. Starts that are not accepted are dropped, not queued. The busy pass
    drives the memory ports, and while neither is busy no read or write is enabled. Windows keep
    running during either pass.

    Parameters
    ----------
    config : RegulatorConfig
        Parameters shared with the golden model.
    n_pre : int
        Number of pre-synaptic neurons, the rows of the weight matrix.

    Members
    -------
    spikes : In(n_neurons)
        Spikes of one timestep, bit ``i`` for neuron ``i``.
    spikes_valid : In(1)
        ``spikes`` carries a timestep in this cycle.
    counts : Out(data.ArrayLayout(unsigned(counter_width), n_neurons))
        Live spike counters of the current window, each saturating at ``counter_max``. A
        timestep presented in cycle ``t`` is counted from cycle ``t + 1``; after a window's last
        timestep they read 0. Reset value 0.
    thresholds : Out(data.ArrayLayout(unsigned(threshold_width), n_neurons))
        Raw thresholds, saturating at ``threshold_floor`` and ``threshold_ceiling``. Reset value
        ``threshold_init``.
    window_done : Out(1)
        One-cycle strobe: the outputs hold the results of the window that just ended.
    n_above : Out(range(n_neurons + 1))
        Number of neurons above the dead band in the last window. Reset value 0.
    n_below : Out(range(n_neurons + 1))
        Number of neurons below the dead band in the last window. Reset value 0.
    dispersion : Out(unsigned(dispersion_width))
        ``sum |count - target_count|`` of the last window. Reset value 0.
    lr_exponent : Out(signed(lr_exponent_width))
        Learning-rate exponent for the next window. Reset value 0, or the nearest end of
        ``[lr_exponent_min, lr_exponent_max]`` when 0 lies outside it.
    weight_read : In(memory.ReadPort.Signature(...))
        Read port of the weight memory, with ``addr_width=weight_addr_width`` and
        ``shape=signed(weight_width)``; the regulator drives ``addr`` and ``en``.
    weight_write : In(memory.WritePort.Signature(...))
        Write port of the weight memory, with the same address width and shape; the regulator
        drives ``addr``, ``data`` and ``en``.
    scale_start : In(1)
        Request a synaptic scaling pass.
    scale_busy : Out(1)
        A synaptic scaling pass is running, from the cycle after its start for
        :attr:`scale_pass_cycles` cycles.
    scale_done : Out(1)
        One-cycle strobe after a scaling pass, when every weight has been written.
    sleep_start : In(1)
        Request a sleep pass.
    sleep_busy : Out(1)
        A sleep pass is running, from the cycle after its start for :attr:`sleep_pass_cycles`
        cycles, or for :attr:`sleep_scan_cycles` cycles when every weight is 0.
    sleep_done : Out(1)
        One-cycle strobe after a sleep pass, when every weight has been written.
    pruned : Out(range(weight_depth + 1))
        Number of nonzero weights that the last sleep pass set to 0, final from ``sleep_done``
        and cleared when a sleep pass starts. Reset value 0.
    max_magnitude : Out(unsigned(weight_width))
        ``max|w|`` found by the last sleep pass, cleared when a sleep pass starts. Reset value 0.
    """

    def __init__(self, config, *, n_pre):
        check_config(config)
        check_n_pre(n_pre)
        self._config = config
        self._n_pre = n_pre

        # Built here so that their pass lengths are available as properties before elaboration.
        self._synaptic_scaler = SynapticScaler(config, n_pre)
        self._sleep_pruner = SleepPruner(config, self.weight_depth)

        n = config.n_neurons
        port_args = dict(addr_width=self.weight_addr_width, shape=signed(config.weight_width))
        super().__init__({
            "spikes": In(n),
            "spikes_valid": In(1),
            "counts": Out(data.ArrayLayout(unsigned(config.counter_width), n)),
            "thresholds": Out(data.ArrayLayout(unsigned(config.threshold_width), n),
                              init=[config.threshold_init] * n),
            "window_done": Out(1),
            "n_above": Out(range(n + 1)),
            "n_below": Out(range(n + 1)),
            "dispersion": Out(unsigned(config.dispersion_width)),
            "lr_exponent": Out(signed(config.lr_exponent_width), init=self.lr_exponent_init),
            "weight_read": In(memory.ReadPort.Signature(**port_args)),
            "weight_write": In(memory.WritePort.Signature(**port_args)),
            "scale_start": In(1),
            "scale_busy": Out(1),
            "scale_done": Out(1),
            "sleep_start": In(1),
            "sleep_busy": Out(1),
            "sleep_done": Out(1),
            "pruned": Out(range(self.weight_depth + 1)),
            "max_magnitude": Out(unsigned(config.magnitude_width)),
        })

    @property
    def config(self):
        """Parameters the regulator was built from."""
        return self._config

    @property
    def n_pre(self):
        """Number of pre-synaptic neurons."""
        return self._n_pre

    @property
    def window_latency(self):
        """Cycles from the cycle that carries a window's last timestep to ``window_done``: 3."""
        return 3

    @property
    def counter_width(self):
        """Width of a spike counter."""
        return self._config.counter_width

    @property
    def threshold_width(self):
        """Width of a raw threshold."""
        return self._config.threshold_width

    @property
    def dispersion_width(self):
        """Width of ``dispersion``."""
        return self._config.dispersion_width

    @property
    def lr_exponent_width(self):
        """Width of the signed ``lr_exponent``."""
        return self._config.lr_exponent_width

    @property
    def lr_exponent_init(self):
        """Reset value of ``lr_exponent``: 0 clamped to the exponent range."""
        return self._config.lr_exponent_init

    @property
    def weight_depth(self):
        """Number of weights in the weight memory, ``n_pre * n_neurons``."""
        return self._n_pre * self._config.n_neurons

    @property
    def weight_addr_width(self):
        """Address width of the weight memory ports."""
        return ceil_log2(self.weight_depth)

    @property
    def scale_pass_cycles(self):
        """Cycles that ``scale_busy`` is high during one synaptic scaling pass."""
        return self._synaptic_scaler.pass_cycles

    @property
    def sleep_pass_cycles(self):
        """Cycles that ``sleep_busy`` is high during a sleep pass over nonzero weights."""
        return self._sleep_pruner.pass_cycles

    @property
    def sleep_scan_cycles(self):
        """Cycles that ``sleep_busy`` is high during a sleep pass when every weight is 0."""
        return self._sleep_pruner.scan_cycles

    def elaborate(self, platform):
        m = Module()
        above, below = self._elaborate_window(m)
        self._elaborate_weight_passes(m, above, below)
        return m

    def _elaborate_window(self, m):
        # Return the registered above and below classes of the last completed window.
        config = self._config
        n = config.n_neurons

        timestep = Signal(range(config.window))
        last_timestep = Signal()
        m.d.comb += last_timestep.eq(self.spikes_valid & (timestep == config.window - 1))
        with m.If(last_timestep):
            m.d.sync += timestep.eq(0)
        with m.Elif(self.spikes_valid):
            m.d.sync += timestep.eq(timestep + 1)

        # Final counts of the last window, stable from cycle t + 1 until the next window's last
        # timestep, which can come no earlier than cycle t + 2 because a window has at least two
        # timesteps.
        window_counts = Signal(data.ArrayLayout(unsigned(config.counter_width), n))
        for i in range(n):
            rate_counter = RateCounter(config)
            m.submodules[f"rate_counter_{i}"] = rate_counter
            m.d.comb += [
                rate_counter.spike.eq(self.spikes[i]),
                rate_counter.en.eq(self.spikes_valid),
                rate_counter.clear.eq(last_timestep),
                self.counts[i].eq(rate_counter.count),
            ]
            with m.If(last_timestep):
                m.d.sync += window_counts[i].eq(rate_counter.next_count)

        counts_captured = Signal()
        dispersion_ready = Signal()
        m.d.sync += [
            counts_captured.eq(last_timestep),
            dispersion_ready.eq(counts_captured),
            self.window_done.eq(dispersion_ready),
        ]

        deviations = []
        for i in range(n):
            deviation = Signal(unsigned(config.counter_width), name=f"deviation_{i}")
            with m.If(window_counts[i] >= config.target_count):
                m.d.comb += deviation.eq(window_counts[i] - config.target_count)
            with m.Else():
                m.d.comb += deviation.eq(config.target_count - window_counts[i])
            deviations.append(deviation)
        # NOTE: one cycle sums all n_neurons deviations in an adder tree of depth
        # ceil(log2(n_neurons)). Its effect on the maximum clock frequency of large populations
        # has not been measured.
        dispersion_sum = Signal(unsigned(config.dispersion_width))
        with m.If(counts_captured):
            m.d.sync += dispersion_sum.eq(_tree_sum(deviations))

        m.submodules.lr_scaler = lr_scaler = LearningRateScaler(config)
        m.d.comb += lr_scaler.dispersion.eq(dispersion_sum)

        above = []
        below = []
        for i in range(n):
            margin_comparator = MarginComparator(config)
            threshold_adder = ThresholdAdder(config)
            m.submodules[f"margin_comparator_{i}"] = margin_comparator
            m.submodules[f"threshold_adder_{i}"] = threshold_adder
            m.d.comb += [
                margin_comparator.count.eq(window_counts[i]),
                threshold_adder.threshold.eq(self.thresholds[i]),
                threshold_adder.count.eq(window_counts[i]),
                threshold_adder.above.eq(margin_comparator.above),
                threshold_adder.below.eq(margin_comparator.below),
            ]
            with m.If(dispersion_ready):
                m.d.sync += self.thresholds[i].eq(threshold_adder.next_threshold)
            above.append(margin_comparator.above)
            below.append(margin_comparator.below)

        window_above = Signal(n)
        window_below = Signal(n)
        with m.If(dispersion_ready):
            m.d.sync += [
                window_above.eq(Cat(above)),
                window_below.eq(Cat(below)),
                self.n_above.eq(_tree_sum(above)),
                self.n_below.eq(_tree_sum(below)),
                self.dispersion.eq(dispersion_sum),
                self.lr_exponent.eq(lr_scaler.exponent),
            ]
        return window_above, window_below

    def _elaborate_weight_passes(self, m, above, below):
        m.submodules.synaptic_scaler = synaptic_scaler = self._synaptic_scaler
        m.submodules.sleep_pruner = sleep_pruner = self._sleep_pruner

        idle = ~synaptic_scaler.busy & ~sleep_pruner.busy
        m.d.comb += [
            synaptic_scaler.above.eq(above),
            synaptic_scaler.below.eq(below),
            synaptic_scaler.start.eq(self.scale_start & idle),
            sleep_pruner.start.eq(self.sleep_start & idle & ~self.scale_start),
            self.scale_busy.eq(synaptic_scaler.busy),
            self.scale_done.eq(synaptic_scaler.done),
            self.sleep_busy.eq(sleep_pruner.busy),
            self.sleep_done.eq(sleep_pruner.done),
            self.pruned.eq(sleep_pruner.pruned),
            self.max_magnitude.eq(sleep_pruner.max_magnitude),
            synaptic_scaler.read.data.eq(self.weight_read.data),
            sleep_pruner.read.data.eq(self.weight_read.data),
        ]

        with m.If(synaptic_scaler.busy):
            self._drive_weight_ports(m, synaptic_scaler)
        with m.Elif(sleep_pruner.busy):
            self._drive_weight_ports(m, sleep_pruner)
        with m.Else():
            m.d.comb += [
                self.weight_read.en.eq(0),
                self.weight_write.en.eq(0),
            ]

    def _drive_weight_ports(self, m, walker):
        m.d.comb += [
            self.weight_read.addr.eq(walker.read.addr),
            self.weight_read.en.eq(walker.read.en),
            self.weight_write.addr.eq(walker.write.addr),
            self.weight_write.data.eq(walker.write.data),
            self.weight_write.en.eq(walker.write.en),
        ]


def _tree_sum(values):
    # A balanced tree instead of Python's left-to-right sum: the expression is ceil(log2(n)) deep
    # rather than n deep, which keeps Amaranth's simulator within Python's recursion limit at a
    # few hundred neurons and gives synthesis a shallower adder network.
    values = list(values)
    while len(values) > 1:
        pairs = [values[i] + values[i + 1] for i in range(0, len(values) - 1, 2)]
        values = pairs + values[len(values) - len(values) % 2:]
    return values[0]
