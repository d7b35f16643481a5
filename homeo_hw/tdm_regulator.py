"""Time-multiplexed regulator: every neuron's state in one memory word, one shared datapath.

A parallel regulator spends flip-flops and logic on every neuron. :class:`TDMRegulator` keeps each
neuron's spike counter, threshold and class flags in one word of a
:class:`~.state_memory.StateMemory`, and one read-modify-write pipeline serves the neurons in turn.
Only the memory grows with the number of neurons, and the logic grows with the width of an index.
The regulator computes exactly what :meth:`homeo_hw.golden.IntegerRegulator.step_events`
computes.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, enum, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .config import DEADBAND, check_config, check_n_pre
from .margin_comparator import MarginComparator
from .sleep_pruner import SleepPruner
from .state_memory import IMPLEMENTATIONS, StateMemory, choose_implementation


__all__ = [
    "TDMRegulator", "TDMPlasticRegulator",
    "state_word_layout", "event_layout", "readout_layout", "sweep_result_layout",
]


def state_word_layout(config):
    """Layout of one neuron's state word: the count of the current window, the raw threshold, and
    the class flags of the last completed window."""
    return data.StructLayout({
        "count": unsigned(config.counter_width),
        "threshold": unsigned(config.threshold_width),
        "above": unsigned(1),
        "below": unsigned(1),
    })


def _index_width(config):
    return max(1, (config.n_neurons - 1).bit_length())


def _greater_than(value, constant):
    """Return ``value > constant`` for an unsigned ``value`` and an integer ``constant``, as AND
    and OR gates.

    Yosys maps a comparison operator to a carry chain of one logic cell per bit. These gates map
    to a smaller LUT tree with a shorter path.
    """
    if constant < 0:
        return Const(1, 1)
    if constant >= (1 << len(value)) - 1:
        return Const(0, 1)
    # From the lowest bit up: the bits seen so far exceed those of the constant.
    greater = Const(0, 1)
    for position in range(len(value)):
        if (constant >> position) & 1:
            greater = value[position] & greater
        else:
            greater = value[position] | greater
    return greater


def event_layout(config):
    """Layout of an address event: a spike of neuron ``neuron``, or, with ``timestep_end`` set, the
    end of the current timestep (``neuron`` is then ignored)."""
    return data.StructLayout({
        "neuron": unsigned(_index_width(config)),
        "timestep_end": unsigned(1),
    })


def readout_layout(config):
    """Layout of a threshold read: the raw threshold and the class of the last completed window."""
    return data.StructLayout({
        "threshold": unsigned(config.threshold_width),
        "above": unsigned(1),
        "below": unsigned(1),
    })


def sweep_result_layout(config):
    """Layout of one neuron's result of a window-end sweep: its count in the window that ended,
    its updated threshold and its class."""
    return data.StructLayout({
        "neuron": unsigned(_index_width(config)),
        "count": unsigned(config.counter_width),
        "threshold": unsigned(config.threshold_width),
        "above": unsigned(1),
        "below": unsigned(1),
    })


class _Operation(enum.Enum, shape=2):
    NONE = 0
    SPIKE = 1
    READ = 2
    # A sweep step, or while `initialising` is high, the initialisation of a word.
    SWEEP = 3


class _Phase(enum.Enum, shape=2):
    RUN = 0
    DRAIN = 1
    SWEEP = 2
    TAIL = 3


# Read latency of the state memory, in cycles.
_READ_LATENCY = 4
# Stage of the pipeline that presents an operation's write to the memory, in cycles after its
# read. The tag of that stage contains the write address.
_WRITE_STAGE = _READ_LATENCY + 2
# Cycles from a window's last mark to the sweep's first read. A spike's write happens
# _WRITE_STAGE cycles after its read, and a read reflects the writes up to its own cycle.
_DRAIN_CYCLES = _READ_LATENCY
# Cycles after a sweep's last read until events are accepted again. The sweep's last write
# happens _WRITE_STAGE cycles after its read. The tail lasts that long too, although one cycle
# less would do, so that init_cycles and sweep_cycles keep their documented values.
_TAIL_CYCLES = _WRITE_STAGE
# Distances, in issue order, of the earlier operations whose writes a read may miss.
_HAZARD_DISTANCES = _WRITE_STAGE - 1


def _tag_layout(config):
    """Layout of the tag that travels down the pipeline beside an operation."""
    return data.StructLayout({
        "op": _Operation,
        "addr": unsigned(_index_width(config)),
    })


class TDMRegulator(wiring.Component):
    """Homeostatic regulator of ``config.n_neurons`` neurons with per-neuron state in memory.

    Each neuron owns one word of :func:`state_word_layout` (``counter_width + threshold_width +
    2`` bits) in :class:`~.state_memory.StateMemory`: SPRAM on an iCE40UP5K, or block RAM, where
    the counts and the rest of the word are two memories of the same depth. One pipeline serves
    spikes, threshold reads and the window-end sweep, one operation per cycle.

    **Reset.** After reset the regulator writes every word (count 0, threshold
    ``threshold_init``, in band) through the sweep pipeline, one word per cycle, and accepts
    nothing for :attr:`init_cycles` = ``n_neurons + 6`` cycles; ``initialising`` is high
    meanwhile. ``n_above``, ``n_below`` and ``dispersion`` reset to 0 and ``lr_exponent`` to 0
    clipped to the exponent range, the golden model's reset state.

    **Events.** ``events`` carries address events in the order of
    :meth:`~homeo_hw.golden.IntegerRegulator.step_events`: the spikes of a timestep, then a
    timestep-end mark. Outside a sweep and without a threshold request ``events.ready`` is high,
    so one event (spike or mark) is accepted per cycle, including consecutive spikes of one
    neuron, whose read-modify-write hazards the pipeline resolves by forwarding. A spike's count
    is written to the memory 6 cycles after its acceptance. A counter saturates at
    ``counter_max``.

    **Window-end sweep.** The mark that completes a window holds ``events.ready`` low for the next
    :attr:`sweep_cycles` = ``n_neurons + 10`` cycles, so that spikes of the next window wait in
    order: 4 cycles let the last spike's write reach the memory, then the sweep reads one neuron
    per cycle in index order, then 6 cycles let its last write reach the memory. For each neuron
    the sweep classifies the count, updates the threshold (saturating at floor and ceiling),
    stores the class, clears the count and writes the word back. Its record (count before
    clearing, new threshold, class) is on ``swept`` with ``swept_valid`` high
    :attr:`sweep_result_delay` = 6 cycles after its read.

    **Statistics.** ``n_above``, ``n_below`` and ``dispersion`` accumulate while a sweep runs and
    hold the window's totals from the cycle before ``window_done`` until they restart from 0 in
    the cycle before the next window's first record on ``swept``. ``lr_exponent`` changes
    together with ``window_done``, a one-cycle strobe :attr:`window_done_delay` =
    ``n_neurons + 12`` cycles after the cycle that accepted the mark.
    Spikes of the next window may already be accepted before the strobe.

    **Threshold readout.** A neuron core reads a threshold by sending the neuron index on
    ``threshold_request``; the threshold, and the neuron's class in the last completed window,
    appear on ``readout`` with ``readout_valid`` high exactly :attr:`threshold_read_latency` = 5
    cycles after the cycle that accepted the request, so responses keep the order of requests.
    Requests share the memory's read port with the other operations, with this priority:
    initialisation and sweeps first (while they run ``threshold_request.ready`` is low), then
    threshold requests, then events (a request accepted in a cycle holds ``events.ready`` low in
    that cycle, so requests in every cycle hold back the events). A read accepted after a
    window's mark returns the updated threshold.

    Parameters
    ----------
    config : RegulatorConfig
        Parameters shared with the golden model.
    memory_implementation : str or None
        Passed to :class:`~.state_memory.StateMemory` as ``implementation``: None chooses block
        RAM, or SPRAM on an iCE40UP5K platform.

    Members
    -------
    events : ``In(stream.Signature(event_layout(config)))``
        Address events: spikes and timestep-end marks.
    threshold_request : ``In(stream.Signature(unsigned(index_width)))``
        Neuron index of a threshold read.
    readout_valid : ``Out(1)``
        High for one cycle per accepted request, when ``readout`` holds its answer.
    readout : ``Out(readout_layout(config))``
        Raw threshold of the requested neuron and its class in the last completed window.
    swept_valid : ``Out(1)``
        High for one cycle per neuron of a sweep, when ``swept`` holds its record.
    swept : ``Out(sweep_result_layout(config))``
        One neuron's sweep result.
    window_done : ``Out(1)``
        One-cycle strobe: the statistics outputs hold the results of the window that just ended.
    n_above, n_below : ``Out(range(n_neurons + 1))``
        Number of neurons above and below the dead band in the last completed window.
    dispersion : ``Out(unsigned(config.dispersion_width))``
        Summed absolute deviation of the counts from ``target_count`` in the last window.
    lr_exponent : ``Out(signed(config.lr_exponent_width))``
        Learning-rate exponent chosen from the last window's dispersion.
    initialising : ``Out(1)``
        High while the state words are written after reset.
    """

    def __init__(self, config, *, memory_implementation=None):
        check_config(config)
        self._config = config
        self._memory_implementation = memory_implementation
        self._word_layout = state_word_layout(config)
        if memory_implementation is not None and memory_implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"memory_implementation must be one of {', '.join(map(repr, IMPLEMENTATIONS))} "
                f"or None, not {memory_implementation!r}")

        n = config.n_neurons
        lr_reset = config.lr_exponent_init
        super().__init__({
            "events": In(stream.Signature(event_layout(config))),
            "threshold_request": In(stream.Signature(unsigned(_index_width(config)))),
            "readout_valid": Out(1),
            "readout": Out(readout_layout(config)),
            "swept_valid": Out(1),
            "swept": Out(sweep_result_layout(config)),
            "window_done": Out(1),
            "n_above": Out(range(n + 1)),
            "n_below": Out(range(n + 1)),
            "dispersion": Out(unsigned(config.dispersion_width)),
            "lr_exponent": Out(signed(config.lr_exponent_width), init=lr_reset),
            "initialising": Out(1, init=1),
        })

    @property
    def config(self):
        """The :class:`~homeo_hw.config.RegulatorConfig` this regulator implements."""
        return self._config

    @property
    def word_layout(self):
        """Layout of a state word, see :func:`state_word_layout`."""
        return self._word_layout

    @property
    def word_width(self):
        """Bits per state word: ``counter_width + threshold_width + 2``."""
        return self._word_layout.size

    @property
    def init_cycles(self):
        """Cycles after reset before the first event or request is accepted: ``n_neurons + 6``."""
        return self._config.n_neurons + _TAIL_CYCLES

    @property
    def sweep_cycles(self):
        """Cycles with ``events.ready`` low after a window's last mark: ``n_neurons + 10``."""
        return _DRAIN_CYCLES + self._config.n_neurons + _TAIL_CYCLES

    @property
    def sweep_result_delay(self):
        """Cycles from a sweep's read of a neuron to its record on ``swept``: 6."""
        return _READ_LATENCY + 2

    @property
    def window_done_delay(self):
        """Cycles from the cycle that accepts a window's last mark to its ``window_done``:
        ``n_neurons + 12``."""
        return _DRAIN_CYCLES + self._config.n_neurons + _READ_LATENCY + 4

    @property
    def threshold_read_latency(self):
        """Cycles from an accepted threshold request to its response: 5."""
        return _READ_LATENCY + 1

    def elaborate(self, platform):
        m = Module()
        config = self._config
        n = config.n_neurons
        latency = _READ_LATENCY

        # In block RAM the counts and the rest of the word live in two memories, because a block
        # RAM read of an address written in the same cycle returns an undefined word. Spikes write
        # only the counts, whose every recent write is forwarded, so an undefined word never
        # reaches the thresholds. On SPRAM the banks never read and write in the same cycle, and
        # one memory contains the whole word, which a spike writes back.
        implementation = choose_implementation(self._memory_implementation, platform)
        split = implementation == "simple"
        if split:
            m.submodules.counts = counts = StateMemory(
                unsigned(config.counter_width), n, implementation=implementation)
            m.submodules.classes = classes = StateMemory(
                readout_layout(config), n, implementation=implementation)
            memories = (counts, classes)
        else:
            m.submodules.state = state = StateMemory(
                self._word_layout, n, implementation=implementation)
            memories = (state,)
        assert all(state_memory.read_latency == latency for state_memory in memories)

        # Issue: choose this cycle's operation and send its read to the memory. After a window's
        # last mark come the phases DRAIN (until the last spike's write has reached the memory),
        # SWEEP (one neuron per cycle) and TAIL (until the sweep's last write has reached the
        # memory), so a sweep needs no forwarding. Reset starts with an initialising sweep.
        phase = Signal(_Phase, init=_Phase.SWEEP)
        timestep = Signal(range(config.window))
        # Registered timestep == window - 1, which keeps the comparison off the input path.
        last_timestep = Signal()
        sweep_addr = Signal(range(n))
        # Registered sweep_addr == n - 1, so that the phase logic decodes one flip-flop rather
        # than a wide comparison.
        sweep_last = Signal(init=n == 1)
        wait_count = Signal(range(max(_DRAIN_CYCLES, _TAIL_CYCLES)))
        issue = Signal(_tag_layout(config))

        # The word that an operation of NONE reads is never used, so the neuron of the event
        # stream serves as its address and the address multiplexer needs no zero case.
        m.d.comb += issue.addr.eq(self.events.payload.neuron)
        with m.Switch(phase):
            with m.Case(_Phase.RUN):
                with m.If(self.threshold_request.valid):
                    m.d.comb += [
                        self.threshold_request.ready.eq(1),
                        issue.op.eq(_Operation.READ),
                        issue.addr.eq(self.threshold_request.payload),
                    ]
                with m.Else():
                    m.d.comb += self.events.ready.eq(1)
                    with m.If(self.events.valid & self.events.payload.timestep_end):
                        m.d.sync += [
                            timestep.eq(timestep + 1),
                            last_timestep.eq(timestep == config.window - 2),
                        ]
                        with m.If(last_timestep):
                            m.d.sync += [
                                timestep.eq(0),
                                last_timestep.eq(0),
                                phase.eq(_Phase.DRAIN),
                            ]
                    with m.Elif(self.events.valid):
                        m.d.comb += issue.op.eq(_Operation.SPIKE)
            with m.Case(_Phase.DRAIN):
                m.d.sync += wait_count.eq(wait_count + 1)
                with m.If(wait_count == _DRAIN_CYCLES - 1):
                    m.d.sync += [
                        wait_count.eq(0),
                        phase.eq(_Phase.SWEEP),
                    ]
            with m.Case(_Phase.SWEEP):
                m.d.comb += [
                    issue.op.eq(_Operation.SWEEP),
                    issue.addr.eq(sweep_addr),
                ]
                m.d.sync += [
                    sweep_addr.eq(sweep_addr + 1),
                    sweep_last.eq(sweep_addr == n - 2),
                ]
                with m.If(sweep_last):
                    m.d.sync += [
                        sweep_addr.eq(0),
                        sweep_last.eq(n == 1),
                        phase.eq(_Phase.TAIL),
                    ]
            with m.Case(_Phase.TAIL):
                m.d.sync += wait_count.eq(wait_count + 1)
                with m.If(wait_count == _TAIL_CYCLES - 1):
                    m.d.sync += [
                        wait_count.eq(0),
                        phase.eq(_Phase.RUN),
                        self.initialising.eq(0),
                    ]

        for state_memory in memories:
            m.d.comb += state_memory.read.addr.eq(issue.addr)

        # The tag of the operation issued k cycles ago is tags[k]. Its word arrives in stage
        # `latency` and is registered for stage `latency + 1`, where every operation computes.
        # The write register presents its write in stage _WRITE_STAGE, whose tag gives the address.
        tags = [issue]
        for stage in range(1, _WRITE_STAGE + 1):
            tag = Signal(_tag_layout(config), name=f"s{stage}_tag")
            m.d.sync += tag.eq(tags[-1])
            tags.append(tag)

        # The word arriving from the memory in stage `latency`, and registered for the next.
        arriving = Signal(self._word_layout)
        if split:
            m.d.comb += [
                arriving.count.eq(counts.read.data),
                arriving.threshold.eq(classes.read.data.threshold),
                arriving.above.eq(classes.read.data.above),
                arriving.below.eq(classes.read.data.below),
            ]
        else:
            m.d.comb += arriving.eq(state.read.data)
        word = Signal(self._word_layout)
        m.d.sync += word.eq(arriving)

        # The write register: `en` writes the count, `whole` the rest of the word too. Writes
        # leave from registers, so that the long routes to SPRAM start at a flip-flop.
        write = Signal(data.StructLayout({"en": 1, "whole": 1, "data": self._word_layout}))
        write_addr = tags[_WRITE_STAGE].addr
        if split:
            m.d.comb += [
                counts.write.en.eq(write.en),
                counts.write.addr.eq(write_addr),
                counts.write.data.eq(write.data.count),
                classes.write.en.eq(write.en & write.whole),
                classes.write.addr.eq(write_addr),
                classes.write.data.threshold.eq(write.data.threshold),
                classes.write.data.above.eq(write.data.above),
                classes.write.data.below.eq(write.data.below),
            ]
        else:
            m.d.comb += [
                state.write.en.eq(write.en),
                state.write.addr.eq(write_addr),
                state.write.data.eq(write.data),
            ]
        m.d.sync += [
            write.en.eq(0),
            write.whole.eq(0),
        ]

        self._elaborate_spikes(m, write, tags, arriving, word)
        self._elaborate_sweep(m, write, tags, arriving, word)
        return m

    def _elaborate_spikes(self, m, write, tags, arriving, word):
        """Count spikes: increment the count in stage ``latency + 1``, where the write register
        takes the word.

        A read in cycle t is not guaranteed to see the writes of cycles t + 1 to t + 5. They
        belong to the 5 operations issued just before it, so the count is forwarded from the
        newest of them that counted a spike of the same neuron. All but the newest have computed
        their counts by the time the word arrives, and registers keep them. The newest computes
        in that very cycle, and is forwarded one stage later. Only counts need forwarding,
        because spikes change nothing else and no sweep write is in flight while spikes run.
        """
        config = self._config
        latency = _READ_LATENCY
        finish = tags[latency + 1]

        counting = Signal()
        new_count = Signal(config.counter_width)
        m.d.comb += counting.eq(finish.op == _Operation.SPIKE)

        # counted[j]: the count of the operation that finished j + 1 cycles ago, the new count if
        # it was a spike.
        counted = []
        for age in range(latency - 1):
            entry = Signal(config.counter_width, name=f"counted_{age + 1}_ago")
            m.d.sync += entry.eq(new_count if age == 0 else counted[-1])
            counted.append(entry)

        # Address comparisons come early: in stage 1 each operation compares its neuron with
        # those of the 5 operations issued before it (stages 2 to 6), and the results travel
        # with it until the counts they select exist. Stage 1 compares pairs of address bits and
        # registers the results, and stage 2 combines them. Each comparison then costs a LUT and
        # a flip-flop, in one logic cell, per two bits. As one LUT tree, Yosys mapped a 12-bit
        # comparison to about 14 LUTs.
        index_width = _index_width(config)
        partials = []
        for distance in range(1, _HAZARD_DISTANCES + 1):
            older = tags[1 + distance]
            pairs = [~(older.addr[low:low + 2] ^ tags[1].addr[low:low + 2]).any()
                     for low in range(0, index_width, 2)]
            partial = Signal(len(pairs) + 1, name=f"s2_match_{distance}_earlier")
            m.d.sync += partial.eq(Cat(older.op == _Operation.SPIKE, *pairs))
            partials.append(partial)
        # hazards[d - 1]: the operation issued d cycles earlier was a spike of the same neuron.
        hazards = Cat(partial.all() for partial in partials)

        # Stage 3: the spikes 3 to 5 operations earlier finished 1 to 3 cycles ago, and the
        # newest of them that matches is resolved to one candidate, so that only two
        # multiplexers lie between the memory data and a register.
        older_matches = Signal(_HAZARD_DISTANCES - 2)
        newer_hits = Signal(2)
        m.d.sync += [
            older_matches.eq(hazards[2:]),
            newer_hits.eq(hazards[:2]),
        ]
        candidate = counted[-1]
        for age in reversed(range(latency - 1)):
            candidate = Mux(older_matches[age], counted[age], candidate)
        older_hit = Signal()
        older_count = Signal(config.counter_width)
        newer_hit = Signal()
        # The match with the operation just before, used a stage later.
        newest_pending = Signal()
        m.d.sync += [
            older_hit.eq(older_matches.any()),
            older_count.eq(candidate),
            newer_hit.eq(newer_hits[1]),
            newest_pending.eq(newer_hits[0]),
        ]

        # Stage 4: the word arrives, and the spike 2 operations earlier finished a cycle ago.
        forwarded_count = Signal(config.counter_width)
        hit_newest = Signal()
        m.d.sync += [
            forwarded_count.eq(Mux(newer_hit, counted[0],
                                   Mux(older_hit, older_count, arriving.count))),
            hit_newest.eq(newest_pending),
        ]

        # Stage 5: the spike 1 operation earlier finished a cycle ago.
        old_count = Signal(config.counter_width)
        m.d.comb += [
            old_count.eq(Mux(hit_newest, counted[0], forwarded_count)),
            new_count.eq(Mux(old_count == config.counter_max, old_count, old_count + 1)),
        ]

        with m.If(counting):
            m.d.sync += [
                write.en.eq(1),
                write.data.eq(word),
                write.data.count.eq(new_count),
            ]

        m.d.comb += [
            self.readout_valid.eq(finish.op == _Operation.READ),
            self.readout.threshold.eq(word.threshold),
            self.readout.above.eq(word.above),
            self.readout.below.eq(word.below),
        ]

    def _elaborate_sweep(self, m, write, tags, arriving, word):
        """Sweep the words: classify the count and compare the threshold with its limits in stage
        ``latency``, then update and saturate the threshold in stage ``latency + 1``, where the
        write register takes the word.

        The record appears and the statistics accumulate in the next stage, and the exponent
        follows one cycle later. A sweep reads no word that a write in flight would change, so
        the arriving word needs no forwarding.
        """
        config = self._config
        latency = _READ_LATENCY
        finish = tags[latency + 1]
        last = tags[_WRITE_STAGE]

        m.submodules.comparator = comparator = MarginComparator(config)
        m.d.comb += comparator.count.eq(arriving.count)
        above = Signal()
        below = Signal()
        m.d.sync += [
            above.eq(comparator.above),
            below.eq(comparator.below),
        ]

        new_threshold = Signal(config.threshold_width)
        floor, ceiling = config.threshold_floor, config.threshold_ceiling
        if config.update_rule == DEADBAND:
            # A stored threshold lies between floor and ceiling, so a step up can only pass the
            # ceiling and a step down only the floor. Both tests compare the arriving threshold
            # with a constant, a stage before the adders.
            step = config.threshold_step
            at_ceiling = Signal()
            at_floor = Signal()
            m.d.sync += [
                at_ceiling.eq(_greater_than(arriving.threshold, ceiling - step)),
                at_floor.eq(~_greater_than(arriving.threshold, floor + step - 1)),
            ]
            raised = Mux(at_ceiling, ceiling, word.threshold + step)
            lowered = Mux(at_floor, floor, word.threshold - step)
            with m.If(above):
                m.d.comb += new_threshold.eq(raised)
            with m.Elif(below):
                m.d.comb += new_threshold.eq(lowered)
            with m.Else():
                m.d.comb += new_threshold.eq(word.threshold)
        else:
            # The unclamped sum, in a signed width that cannot overflow.
            delta_width = max(config.threshold_width + 1,
                              config.counter_width + 1 + max(0, -config.proportional_shift))
            total = Signal(signed(delta_width + 1))
            # The low counter_width + 1 bits of the wrapped difference are the signed error.
            error = Signal(signed(config.counter_width + 1))
            delta = Signal(signed(delta_width))
            m.d.comb += error.eq(word.count - config.target_count)
            shift = config.proportional_shift
            if shift >= 0:
                # Adding 2 ** shift - 1 to a negative error before the arithmetic shift rounds
                # the quotient towards zero, like sign(e) * (|e| >> shift).
                biased = Signal(signed(max(config.counter_width + 1, shift + 1) + 1))
                m.d.comb += [
                    biased.eq(error + Mux(error < 0, (1 << shift) - 1, 0)),
                    delta.eq(biased >> shift),
                ]
            else:
                m.d.comb += delta.eq(error << -shift)
            m.d.comb += total.eq(word.threshold + delta)
            with m.If(total < floor):
                m.d.comb += new_threshold.eq(floor)
            with m.Elif(total > ceiling):
                m.d.comb += new_threshold.eq(ceiling)
            with m.Else():
                m.d.comb += new_threshold.eq(total)

        # The write register takes the updated word, or while initialising the reset word.
        swept_count = Signal(config.counter_width)
        with m.If(finish.op == _Operation.SWEEP):
            m.d.sync += [
                write.en.eq(1),
                write.whole.eq(1),
                write.data.count.eq(0),
                swept_count.eq(word.count),
            ]
            with m.If(self.initialising):
                m.d.sync += [
                    write.data.threshold.eq(config.threshold_init),
                    write.data.above.eq(0),
                    write.data.below.eq(0),
                ]
            with m.Else():
                m.d.sync += [
                    write.data.threshold.eq(new_threshold),
                    write.data.above.eq(above),
                    write.data.below.eq(below),
                ]

        is_sweep = Signal()
        m.d.comb += [
            is_sweep.eq((last.op == _Operation.SWEEP) & ~self.initialising),
            self.swept_valid.eq(is_sweep),
            self.swept.neuron.eq(last.addr),
            self.swept.count.eq(swept_count),
            self.swept.threshold.eq(write.data.threshold),
            self.swept.above.eq(write.data.above),
            self.swept.below.eq(write.data.below),
        ]

        # The statistics accumulate in the outputs themselves. Sweep steps are issued in
        # consecutive cycles, so the first step of a sweep is the one without a sweep step
        # before it, and the last step the one without a sweep step after it. The outputs
        # restart from 0 when the first step computes, a cycle before its record.
        restart = Signal()
        final = Signal()
        m.d.comb += [
            restart.eq((finish.op == _Operation.SWEEP) & ~self.initialising
                       & (last.op != _Operation.SWEEP)),
            final.eq(finish.op != _Operation.SWEEP),
        ]
        # |count - target_count|, computed a stage early so that the accumulator's adder starts
        # at a register.
        deviation = Signal(config.counter_width)
        m.d.sync += deviation.eq(Mux(word.count >= config.target_count,
                                     word.count - config.target_count,
                                     config.target_count - word.count))
        published = Signal()
        m.d.sync += published.eq(0)
        with m.If(restart):
            m.d.sync += [
                self.n_above.eq(0),
                self.n_below.eq(0),
                self.dispersion.eq(0),
            ]
        with m.Elif(is_sweep):
            m.d.sync += [
                self.n_above.eq(self.n_above + write.data.above),
                self.n_below.eq(self.n_below + write.data.below),
                self.dispersion.eq(self.dispersion + deviation),
                published.eq(final),
            ]

        # The exponent that LearningRateScaler chooses: the largest whose limit the dispersion
        # does not exceed. Later assignments take priority. The comparisons with the constant
        # limits are gates rather than carry chains, which would grow with the dispersion's width.
        exponent = Signal(signed(config.lr_exponent_width))
        m.d.comb += exponent.eq(config.lr_exponent_min)
        for power in range(config.lr_exponent_min, config.lr_exponent_max + 1):
            reference = config.lr_reference_dispersion
            limit = reference >> power if power >= 0 else reference << -power
            with m.If(~_greater_than(self.dispersion, limit)):
                m.d.comb += exponent.eq(power)
        m.d.sync += self.window_done.eq(published)
        with m.If(published):
            m.d.sync += self.lr_exponent.eq(exponent)


class TDMPlasticRegulator(wiring.Component):
    """A :class:`TDMRegulator` with synaptic scaling and sleep over a weight memory.

    It has every member of :class:`TDMRegulator`, with the same timing, plus the weight-memory
    interface of the parallel :class:`~homeo_hw.regulator.Regulator`. The weight memory
    contains ``n_pre * n_neurons`` signed weights, the weight from ``pre`` onto ``post`` at
    address ``pre * n_neurons + post``. It has a synchronous read port with a latency of one
    cycle and a write port.

    A scaling pass (:class:`~.tdm_synaptic_scaler.TDMSynapticScaler`) reads each post neuron's
    class through the regulator's threshold readout. While it requests classes,
    ``threshold_request.ready`` is low for outside requests and no event is accepted, so every
    weight is scaled with the classes of one window. A sleep pass
    (:class:`~.sleep_pruner.SleepPruner`) needs no per-neuron state. ``scale_start`` and
    ``sleep_start`` are ignored while either pass is busy; if both rise in the same cycle, only
    the scaling pass starts.

    Parameters
    ----------
    config : RegulatorConfig
        Parameters shared with the golden model.
    n_pre : int
        Number of pre-synaptic neurons, the rows of the weight matrix.
    memory_implementation : str or None
        As for :class:`TDMRegulator`.

    Members
    -------
    (every member of :class:`TDMRegulator`)
        Same meaning and timing. ``readout_valid`` rises only for outside requests.
    weight_read : ``In(memory.ReadPort.Signature(addr_width=ceil_log2(depth), shape=...))``
        Read port of the weight memory, of ``signed(weight_width)`` words. The regulator drives
        ``addr`` and ``en``.
    weight_write : ``In(memory.WritePort.Signature(addr_width=ceil_log2(depth), shape=...))``
        Write port of the weight memory.
    scale_start, sleep_start : ``In(1)``
        Start a scaling or a sleep pass.
    scale_busy, sleep_busy : ``Out(1)``
        A pass is running.
    scale_done, sleep_done : ``Out(1)``
        One-cycle strobes after a pass's last write.
    pruned : ``Out(range(depth + 1))``
        Weights that the last sleep pass set to zero, as :class:`~.sleep_pruner.SleepPruner`
        counts them.
    """

    def __init__(self, config, *, n_pre, memory_implementation=None):
        check_n_pre(n_pre)
        self._regulator = TDMRegulator(config, memory_implementation=memory_implementation)
        self._config = config
        self._n_pre = n_pre
        depth = n_pre * config.n_neurons
        ports = {"addr_width": ceil_log2(depth), "shape": signed(config.weight_width)}
        members = dict(self._regulator.signature.members)
        members.update({
            "weight_read": In(memory.ReadPort.Signature(**ports)),
            "weight_write": In(memory.WritePort.Signature(**ports)),
            "scale_start": In(1),
            "scale_busy": Out(1),
            "scale_done": Out(1),
            "sleep_start": In(1),
            "sleep_busy": Out(1),
            "sleep_done": Out(1),
            "pruned": Out(range(depth + 1)),
        })
        super().__init__(members)

    @property
    def regulator(self):
        """The inner :class:`TDMRegulator`, for its timing properties."""
        return self._regulator

    @property
    def n_pre(self):
        """Number of pre-synaptic neurons."""
        return self._n_pre

    def elaborate(self, platform):
        # Imported here because the scaler imports readout_layout from this module.
        from .tdm_synaptic_scaler import TDMSynapticScaler

        m = Module()
        config = self._config
        depth = self._n_pre * config.n_neurons
        latency = self._regulator.threshold_read_latency

        m.submodules.regulator = regulator = self._regulator
        m.submodules.scaler = scaler = TDMSynapticScaler(config, self._n_pre,
                                                         response_latency=latency)
        m.submodules.sleeper = sleeper = SleepPruner(config, depth)

        wiring.connect(m, wiring.flipped(self.events), regulator.events)
        m.d.comb += [
            self.readout.eq(regulator.readout),
            self.swept_valid.eq(regulator.swept_valid),
            self.swept.eq(regulator.swept),
            self.window_done.eq(regulator.window_done),
            self.n_above.eq(regulator.n_above),
            self.n_below.eq(regulator.n_below),
            self.dispersion.eq(regulator.dispersion),
            self.lr_exponent.eq(regulator.lr_exponent),
            self.initialising.eq(regulator.initialising),
        ]

        # The scaler's class requests take the readout while it makes them. A shift register
        # remembers which accepted requests came from outside, to route their responses.
        scaling_requests = scaler.class_request.valid
        with m.If(scaling_requests):
            m.d.comb += [
                regulator.threshold_request.valid.eq(1),
                regulator.threshold_request.payload.eq(scaler.class_request.payload),
                scaler.class_request.ready.eq(regulator.threshold_request.ready),
            ]
        with m.Else():
            m.d.comb += [
                regulator.threshold_request.valid.eq(self.threshold_request.valid),
                regulator.threshold_request.payload.eq(self.threshold_request.payload),
                self.threshold_request.ready.eq(regulator.threshold_request.ready),
            ]
        outside = Signal(latency)
        m.d.sync += outside.eq(Cat(self.threshold_request.valid & self.threshold_request.ready,
                                   outside[:-1]))
        m.d.comb += [
            self.readout_valid.eq(regulator.readout_valid & outside[-1]),
            scaler.class_valid.eq(regulator.readout_valid & ~outside[-1]),
            scaler.class_response.eq(regulator.readout),
        ]

        idle = ~scaler.busy & ~sleeper.busy
        m.d.comb += [
            scaler.start.eq(self.scale_start & idle),
            sleeper.start.eq(self.sleep_start & idle & ~self.scale_start),
            self.scale_busy.eq(scaler.busy),
            self.scale_done.eq(scaler.done),
            self.sleep_busy.eq(sleeper.busy),
            self.sleep_done.eq(sleeper.done),
            self.pruned.eq(sleeper.pruned),
        ]
        with m.If(scaler.busy):
            m.d.comb += [
                self.weight_read.addr.eq(scaler.read.addr),
                self.weight_read.en.eq(scaler.read.en),
                self.weight_write.addr.eq(scaler.write.addr),
                self.weight_write.data.eq(scaler.write.data),
                self.weight_write.en.eq(scaler.write.en),
            ]
        with m.Elif(sleeper.busy):
            m.d.comb += [
                self.weight_read.addr.eq(sleeper.read.addr),
                self.weight_read.en.eq(sleeper.read.en),
                self.weight_write.addr.eq(sleeper.write.addr),
                self.weight_write.data.eq(sleeper.write.data),
                self.weight_write.en.eq(sleeper.write.en),
            ]
        m.d.comb += [
            scaler.read.data.eq(self.weight_read.data),
            sleeper.read.data.eq(self.weight_read.data),
        ]
        return m
