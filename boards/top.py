"""Board top-level shared by every board: stimulus, regulator, weight memory and status LEDs.

The top-level needs no host. An on-chip pseudo-random spike source drives the regulator once per
timestep. A scheduler starts synaptic scaling after every window, and a sleep pass every few
windows or on a button press. The board's LEDs show the state of the population.

Architectures are looked up by name in :data:`ARCHITECTURES`, so a new regulator implementation
only needs an :class:`Architecture` subclass and a call to :func:`register_architecture`.
"""

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Cat, Elaboratable, Module, Signal, Value, signed
from amaranth.lib import io, memory, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from homeo_hw.config import RegulatorConfig


__all__ = [
    "Board", "DeviceResources", "Architecture", "ParallelArchitecture", "TDMArchitecture",
    "ARCHITECTURES", "register_architecture", "get_architecture", "UP5K_TDM_CONFIG",
    "SpikeSource", "RegulationStatus", "Debouncer", "HomeostasisTop", "default_rates",
    "output_buffer", "request_output",
]


#: Resolution of a spike probability in the spike source: ``rate_raw / 2 ** RATE_BITS``.
RATE_BITS = 8
#: Timesteps per second of the board top-level unless a timestep is too short, see
#: :class:`HomeostasisTop`.
DEFAULT_TIMESTEP_RATE = 1000.0
#: Seconds that a push button must stay pressed or released before the top-level takes its new
#: level. Switch contacts typically bounce for a few milliseconds.
BUTTON_DEBOUNCE_TIME = 0.01


@dataclass(frozen=True)
class DeviceResources:
    """Capacity of an iCE40 device, from the Lattice iCE40 LP/HX and UltraPlus data sheets.

    Attributes
    ----------
    logic_cells : int
        Logic cells (one LUT4, one flip-flop and one carry each); nextpnr's ``ICESTORM_LC``.
    bram : int
        4-kbit block RAMs; nextpnr's ``ICESTORM_RAM``.
    spram : int
        256-kbit single-port RAMs (UltraPlus only); nextpnr's ``ICESTORM_SPRAM``.
    dsp : int
        16x16 multiply-accumulate blocks (UltraPlus only); nextpnr's ``ICESTORM_DSP``.
    """

    logic_cells: int
    bram: int
    spram: int = 0
    dsp: int = 0


#: Resources of the devices on the supported boards.
DEVICES = {
    "iCE40HX1K": DeviceResources(logic_cells=1280, bram=16),
    "iCE40HX8K": DeviceResources(logic_cells=7680, bram=32),
    "iCE40LP8K": DeviceResources(logic_cells=7680, bram=32),
    "iCE40UP5K": DeviceResources(logic_cells=5280, bram=30, spram=4, dsp=8),
}


@dataclass(frozen=True)
class Board:
    """A board the design can be built for.

    Attributes
    ----------
    name : str
        Name on the command line.
    title : str
        Human-readable board name.
    platform : type
        amaranth-boards platform class.
    led_mapping : str
        What each LED shows, for the ``boards`` listing and the documentation.
    connect_leds : callable
        ``connect_leds(m, platform, status)`` drives the board's LEDs from a
        :class:`RegulationStatus`.
    button : str or None
        Resource name of a push button that starts a sleep pass, or None.
    platform_options : tuple of (str, object)
        Attributes set on the platform instance before the build, e.g. an oscillator divider.
    """

    name: str
    title: str
    platform: type
    led_mapping: str
    connect_leds: object
    button: str | None = None
    platform_options: tuple = ()

    def create_platform(self):
        """Return a fresh platform instance; Amaranth prepares each instance only once."""
        platform = self.platform()
        for attribute, value in self.platform_options:
            setattr(platform, attribute, value)
        return platform

    @property
    def device(self):
        """iCE40 device name, as amaranth-boards spells it."""
        return self.platform.device

    @property
    def package(self):
        """Device package."""
        return self.platform.package

    @property
    def resources(self):
        """:class:`DeviceResources` of the board's device."""
        return DEVICES[self.device]

    @property
    def clock_frequency(self):
        """Frequency of the default clock in Hz."""
        return self.create_platform().default_clk_frequency


def output_buffer(m, name, port):
    """Add an output buffer for the I/O port ``port`` as submodule ``name``; return its input.

    The polarity is the board file's: driving 1 lights an LED.
    """
    buffer = io.Buffer("o", port)
    m.submodules[name] = buffer
    return buffer.o


def request_output(m, platform, name, number=0):
    """Request the board's one-pin output resource ``name`` (an LED) and return its driver."""
    return output_buffer(m, f"{name}_{number}", platform.request(name, number, dir="-"))


class Architecture:
    """How to build one regulator implementation and feed it spikes.

    Subclass it and register an instance with :func:`register_architecture` to add an
    implementation to the ``--arch`` option.
    """

    #: Name on the command line.
    name = None
    #: One-line description.
    description = None
    #: Outputs of the regulator that nothing on the board reads. :class:`HomeostasisTop` ties
    #: each one that exists to a wire with the ``keep`` attribute.
    kept_outputs = ()
    #: Whether :meth:`create` accepts ``n_pre=0``: a regulator without a weight memory, which
    #: regulates thresholds and the learning rate but runs no synaptic scaling or sleep.
    supports_no_weights = False

    def default_config(self, board, n_neurons):
        """Return the :class:`RegulatorConfig` for ``board`` when the user gives none.

        By default ``RegulatorConfig(n_neurons=n_neurons)`` on every board.
        """
        return RegulatorConfig(n_neurons=n_neurons)

    def create(self, config, *, n_pre):
        """Return the regulator component for ``config`` with an ``n_pre`` x ``n_neurons``
        weight memory interface, or with none when ``n_pre`` is 0 and
        :attr:`supports_no_weights` is set."""
        raise NotImplementedError

    def capacity(self, board, config):
        """Return the largest neuron count per resource that the regulator's structure allows on
        ``board`` with ``config``'s word layout, as ``{resource name: neurons}``.

        These are limits that a linear fit of measured builds cannot see, such as a memory made
        of whole SPRAM blocks. By default there are none.
        """
        return {}

    def connect_spikes(self, m, regulator, source):
        """Add the statements that feed the :class:`SpikeSource` ``source`` to ``regulator``.

        The source offers each timestep both as a parallel vector (``spikes``, ``spikes_valid``)
        and serially, one neuron per cycle (``serial_index``, ``serial_spike``,
        ``serial_valid``) followed by ``spikes_valid`` as the timestep end. A serial consumer
        can hold the source with ``serial_ready``.
        """
        raise NotImplementedError


class ParallelArchitecture(Architecture):
    """The parallel :class:`homeo_hw.regulator.Regulator`: per-neuron state in flip-flops.

    The regulator takes the spike source's vector side. Its ``spikes_ready`` stalls the source
    at a timestep end while a window-end sweep runs, and at a window's last timestep while a
    scaling pass runs, never during the serial decisions. A sweep lasts ``n_neurons + 1``
    cycles after a window's last timestep, and the source's next timestep ends at least
    ``n_neurons + 1`` cycles after it, so it waits at most one cycle. A window's last timestep
    waits for a scaling pass only when the pass, ``n_pre * n_neurons + 3`` cycles, lasts
    longer than a window.
    """

    name = "parallel"
    description = ("every neuron has its own counter and threshold in flip-flops, shifted "
                   "through one shared datapath at each window end")
    kept_outputs = ("thresholds", "counts", "dispersion", "lr_exponent", "pruned",
                    "max_magnitude")

    def create(self, config, *, n_pre):
        # Imported here so that boards, builds and tests of other architectures do not need it.
        from homeo_hw.regulator import Regulator
        return Regulator(config, n_pre=n_pre)

    def connect_spikes(self, m, regulator, source):
        m.d.comb += [
            regulator.spikes.eq(source.spikes),
            regulator.spikes_valid.eq(source.spikes_valid),
            source.serial_ready.eq(regulator.spikes_ready | ~source.spikes_valid),
        ]


#: Default configuration of the ``tdm`` architecture on iCE40UP5K boards, apart from
#: ``n_neurons``. Its state word has 7 + 7 + 2 = 16 bits, the width of one SPRAM word. The state
#: memory keeps two copies of every word in SPRAM, so with 16-bit words the UP5K's 4 SPRAMs hold
#: 32768 neurons, and with words of 17 to 32 bits only 16384. The window, target, dead band and
#: initial threshold (1.0) are those of ``RegulatorConfig()``. The threshold has 4 fractional
#: bits instead of 8, a ceiling of 127 / 16, and moves by 1/16 per window.
UP5K_TDM_CONFIG = RegulatorConfig(
    n_neurons=1, window=64, counter_width=7, target_count=6, margin=1, threshold_width=7,
    threshold_frac_bits=4, threshold_floor=0, threshold_ceiling=127, threshold_init=16,
    threshold_step=1)


class TDMArchitecture(Architecture):
    """The time-multiplexed :class:`homeo_hw.tdm_regulator.TDMPlasticRegulator`: each neuron's
    state in one memory word, one shared pipeline.

    The regulator takes the spike source's serial side as address events: the spikes in index
    order, then a timestep-end mark. Decisions without a spike pass without waiting for the
    regulator, and the source waits while the regulator holds ``events.ready`` low, which it
    does during initialisation, window-end sweeps and scaling passes. On iCE40UP5K boards the
    default configuration is :data:`UP5K_TDM_CONFIG`.
    """

    name = "tdm"
    description = ("time-multiplexed: one shared pipeline, each neuron's state in a word of "
                   "block RAM, or of SPRAM on the iCE40UP5K")
    kept_outputs = ("readout", "swept", "dispersion", "lr_exponent", "pruned")
    supports_no_weights = True

    def default_config(self, board, n_neurons):
        if board.device == "iCE40UP5K":
            return UP5K_TDM_CONFIG.replace(n_neurons=n_neurons)
        return super().default_config(board, n_neurons)

    def capacity(self, board, config):
        # On the UP5K each of the state memory's two banks holds every word, tiled from
        # 16384 x 16-bit SPRAM blocks, so the SPRAMs bound the number of words.
        if board.device != "iCE40UP5K":
            return {}
        from homeo_hw.state_memory import SPRAM_DEPTH, SPRAM_WIDTH, UP5K_SPRAM_COUNT
        from homeo_hw.tdm_regulator import state_word_layout
        columns = -(-state_word_layout(config).size // SPRAM_WIDTH)
        return {"spram": UP5K_SPRAM_COUNT // (2 * columns) * SPRAM_DEPTH}

    def create(self, config, *, n_pre):
        # Imported here so that boards, builds and tests of other architectures do not need it.
        from homeo_hw.tdm_regulator import TDMPlasticRegulator, TDMRegulator
        if n_pre == 0:
            return TDMRegulator(config)
        return TDMPlasticRegulator(config, n_pre=n_pre)

    def connect_spikes(self, m, regulator, source):
        events = regulator.events
        spike = source.serial_valid & source.serial_spike
        m.d.comb += [
            events.valid.eq(spike | source.spikes_valid),
            events.payload.neuron.eq(source.serial_index),
            events.payload.timestep_end.eq(source.spikes_valid),
            source.serial_ready.eq(events.ready | (source.serial_valid & ~source.serial_spike)),
        ]


#: Regulator architectures by name.
ARCHITECTURES = {}


def register_architecture(architecture):
    """Add an :class:`Architecture` instance to :data:`ARCHITECTURES` under its name."""
    if not isinstance(architecture, Architecture):
        raise TypeError(f"architecture must be an Architecture instance, not {architecture!r}")
    ARCHITECTURES[architecture.name] = architecture
    return architecture


def get_architecture(name):
    """Return the registered architecture called ``name``.

    Raises
    ------
    ValueError
        If no architecture has that name; the message lists the known ones.
    """
    try:
        return ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ValueError(f"unknown architecture {name!r}; known architectures: {known}") from None


register_architecture(ParallelArchitecture())
register_architecture(TDMArchitecture())


def default_rates(config):
    """Return spike probabilities per timestep that put neurons below, in and above the band.

    The rates are a quarter of, equal to, and 2.5 times the target rate
    ``target_count / window``; the spike source gives neuron ``i`` the rate ``rates[i % 3]``.
    """
    target = config.target_count / config.window
    return (target / 4, target, min(target * 2.5, 1.0))


def _rate_raw(rate):
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise ValueError(f"spike rate must be a probability per timestep in [0, 1], not {rate!r}")
    return min(round(rate * (1 << RATE_BITS)), (1 << RATE_BITS) - 1)


class SpikeSource(wiring.Component):
    """Seeded pseudo-random spike source with a fixed rate per neuron.

    One timestep lasts ``timestep_cycles`` clock cycles. In its first ``n_neurons`` cycles the
    source decides one neuron per cycle: neuron ``i`` spikes when the low :data:`RATE_BITS` bits
    of a 32-bit xorshift generator (Marsaglia 2003, shifts 13, 17, 5; period ``2 ** 32 - 1``,
    advanced every cycle) are below ``rates[i % len(rates)] * 2 ** RATE_BITS``. The decisions
    are shifted into a register, so the per-neuron cost is one flip-flop; the comparison and the
    generator are shared.

    Parameters
    ----------
    n_neurons : int
        Number of neurons.
    rates : sequence of float
        Spike probabilities per timestep, assigned to neurons cyclically, each in [0, 1] and
        rounded to multiples of ``2 ** -RATE_BITS`` (1 is stored as ``1 - 2 ** -RATE_BITS``).
    seed : int
        Initial generator state; any value, mapped to a nonzero 32-bit state.
    timestep_cycles : int
        Clock cycles per timestep; at least ``n_neurons + 1``.

    Members
    -------
    spikes : Out(n_neurons)
        Spikes of the last completed timestep, bit ``i`` for neuron ``i``; valid with
        ``spikes_valid``.
    spikes_valid : Out(1)
        High in cycle ``n_neurons`` of the timestep, for one cycle while ``serial_ready`` is high;
        it also marks the end of the timestep's serial decisions.
    serial_index : Out(range(n_neurons))
        Neuron decided in this cycle.
    serial_spike : Out(1)
        Whether that neuron spikes.
    serial_valid : Out(1)
        High in the cycles that decide a neuron.
    serial_ready : In(1)
        Back-pressure for a serial consumer, high from reset. While it is low in a cycle with
        ``serial_valid`` or ``spikes_valid`` high, the source holds every output and its
        generator, so the timestep lasts longer but the sequence of decisions is unchanged.
    """

    def __init__(self, n_neurons, *, rates, seed, timestep_cycles):
        if isinstance(n_neurons, bool) or not isinstance(n_neurons, int) or n_neurons < 1:
            raise ValueError(f"n_neurons must be a positive integer, not {n_neurons!r}")
        rates = tuple(rates)
        if not rates:
            raise ValueError("rates must contain at least one spike rate")
        self._rates_raw = tuple(_rate_raw(rate) for rate in rates)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an integer, not {seed!r}")
        if timestep_cycles < n_neurons + 1:
            raise ValueError(
                f"a timestep of {timestep_cycles} cycles is too short to decide {n_neurons} "
                f"neurons one per cycle; use at least {n_neurons + 1} cycles per timestep")
        self._n_neurons = n_neurons
        self._seed = _xorshift_seed(seed)
        self._timestep_cycles = timestep_cycles
        super().__init__({
            "spikes": Out(n_neurons),
            "spikes_valid": Out(1),
            "serial_index": Out(range(n_neurons)),
            "serial_spike": Out(1),
            "serial_valid": Out(1),
            "serial_ready": In(1, init=1),
        })

    @property
    def rates_raw(self):
        """Spike thresholds of the rate tiers, in units of ``2 ** -RATE_BITS``."""
        return self._rates_raw

    @property
    def seed_state(self):
        """Nonzero initial state of the xorshift generator."""
        return self._seed

    @property
    def timestep_cycles(self):
        """Clock cycles per timestep."""
        return self._timestep_cycles

    def elaborate(self, platform):
        m = Module()
        n = self._n_neurons

        # The source advances in every cycle, except that it waits while a decision or the
        # timestep end is offered and `serial_ready` is low.
        advance = Signal()
        m.d.comb += advance.eq(~(self.serial_valid | self.spikes_valid) | self.serial_ready)

        state = Signal(32, init=self._seed)
        step = state ^ (state << 13)[:32]
        step = step ^ (step >> 17)
        step = step ^ (step << 5)[:32]
        with m.If(advance):
            m.d.sync += state.eq(step)

        cycle = Signal(range(self._timestep_cycles))
        with m.If(advance):
            with m.If(cycle == self._timestep_cycles - 1):
                m.d.sync += cycle.eq(0)
            with m.Else():
                m.d.sync += cycle.eq(cycle + 1)

        tier = Signal(range(len(self._rates_raw)))
        rate_raw = Signal(RATE_BITS)
        with m.Switch(tier):
            for index, value in enumerate(self._rates_raw):
                with m.Case(index):
                    m.d.comb += rate_raw.eq(value)

        deciding = Signal()
        m.d.comb += [
            deciding.eq(cycle < n),
            self.serial_valid.eq(deciding),
            self.serial_index.eq(cycle),
            self.serial_spike.eq(state[:RATE_BITS] < rate_raw),
            self.spikes_valid.eq(cycle == n),
        ]

        with m.If(advance & deciding):
            # After n shifts the first decision, neuron 0's, has reached bit 0.
            m.d.sync += self.spikes.eq(Cat(self.spikes[1:], self.serial_spike))
            with m.If(tier == len(self._rates_raw) - 1):
                m.d.sync += tier.eq(0)
            with m.Else():
                m.d.sync += tier.eq(tier + 1)
        with m.Elif(advance):
            m.d.sync += tier.eq(0)

        return m


def _xorshift_seed(seed):
    state = (seed * 0x9E3779B9 + 0x6A09E667) & 0xFFFFFFFF
    return state or 0x6A09E667


class RegulationStatus(wiring.Component):
    """Population state for the LEDs, updated at every window end.

    Parameters
    ----------
    n_neurons : int
        Population size.

    Members
    -------
    window_done : In(1)
        Strobe of the regulator; ``n_above`` and ``n_below`` are read in the same cycle.
    n_above, n_below : In(range(n_neurons + 1))
        Neurons above and below the dead band in the window that ended.
    above, in_band, below : Out(1)
        Exactly one is high: the class that contains the most neurons (a plurality), with ties
        going to ``in_band``. ``in_band`` is high from reset.
    heartbeat : Out(1)
        Toggles at every window end.
    """

    def __init__(self, n_neurons):
        self._n_neurons = n_neurons
        super().__init__({
            "window_done": In(1),
            "n_above": In(range(n_neurons + 1)),
            "n_below": In(range(n_neurons + 1)),
            "above": Out(1),
            "in_band": Out(1, init=1),
            "below": Out(1),
            "heartbeat": Out(1),
        })

    def elaborate(self, platform):
        m = Module()

        n_in_band = Signal(range(self._n_neurons + 1))
        m.d.comb += n_in_band.eq(self._n_neurons - self.n_above - self.n_below)

        with m.If(self.window_done):
            above = (self.n_above > n_in_band) & (self.n_above > self.n_below)
            below = (self.n_below > n_in_band) & (self.n_below > self.n_above)
            m.d.sync += [
                self.above.eq(above),
                self.below.eq(below),
                self.in_band.eq(~above & ~below),
                self.heartbeat.eq(~self.heartbeat),
            ]

        return m


class Debouncer(wiring.Component):
    """Turn a bouncing push-button input into one strobe per press.

    ``button`` is synchronised to the ``sync`` domain by a two-stage
    :class:`~amaranth.lib.cdc.FFSynchronizer`, so the value it has in cycle ``c`` is seen in
    cycle ``c + 2``. The debounced level, low after reset, takes the seen value at the end of
    the ``cycles``-th consecutive cycle in which the two differ. Any cycle in which they agree
    restarts that count, so bounces shorter than ``cycles`` cycles change nothing, on press and
    on release.

    Parameters
    ----------
    cycles : int
        Cycles that the seen value must differ from the debounced level before the level
        follows it. At least 1.

    Members
    -------
    button : In(1)
        Raw, asynchronous button level, high while pressed.
    pressed : Out(1)
        One-cycle strobe in the first cycle with the debounced level high.
    """

    def __init__(self, cycles):
        if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1:
            raise ValueError(f"cycles must be a positive integer, not {cycles!r}")
        self._cycles = cycles
        super().__init__({"button": In(1), "pressed": Out(1)})

    @property
    def cycles(self):
        """Cycles that a new level must last before it is taken."""
        return self._cycles

    def elaborate(self, platform):
        m = Module()

        seen = Signal()
        m.submodules.synchronizer = FFSynchronizer(self.button, seen)

        level = Signal()
        level_before = Signal()
        differing = Signal(range(self._cycles))
        with m.If(seen == level):
            m.d.sync += differing.eq(0)
        with m.Elif(differing == self._cycles - 1):
            m.d.sync += [level.eq(seen), differing.eq(0)]
        with m.Else():
            m.d.sync += differing.eq(differing + 1)
        m.d.sync += level_before.eq(level)
        m.d.comb += self.pressed.eq(level & ~level_before)
        return m


class HomeostasisTop(Elaboratable):
    """Board top-level: spike source, regulator, weight memory, pass scheduler and LEDs.

    After every window the scheduler starts a synaptic scaling pass, except after every
    ``sleep_every``-th window, when it starts a sleep pass instead. A press of the board's button
    (if it has one), debounced by a :class:`Debouncer` over :data:`BUTTON_DEBOUNCE_TIME`, also
    starts a sleep pass. A pass that is due while another runs waits for it.
    With ``n_pre=0`` (architectures with :attr:`Architecture.supports_no_weights` only) the
    top-level has no weight memory and no scheduler: the regulator adapts thresholds and the
    learning rate only.

    Nothing on the board reads the thresholds, counts, dispersion or pruned count, so the
    top-level ties the outputs that the architecture lists in
    :attr:`Architecture.kept_outputs` to wires with the ``keep`` attribute. Synthesis then keeps
    the whole regulator, and the resource figures of a build are those of the complete design.

    Parameters
    ----------
    board : Board
        Target board.
    config : RegulatorConfig
        Regulator parameters.
    arch : str
        Name of a registered :class:`Architecture`.
    n_pre : int
        Presynaptic neurons per regulated neuron; the weight memory contains
        ``n_pre * n_neurons`` weights. 0 builds no weight memory.
    seed : int
        Seed of the spike source and of the initial weights.
    rates : sequence of float or None
        Spike probabilities per timestep, see :class:`SpikeSource`; None for
        :func:`default_rates`.
    timestep_rate : float or None
        Timesteps per second. None for :data:`DEFAULT_TIMESTEP_RATE` (1000), or fewer when the
        clock gives fewer than ``n_neurons + 1`` cycles per timestep at that rate: a timestep
        then lasts ``n_neurons + 1`` cycles, the shortest in which the spike source decides
        every neuron.
    sleep_every : int
        Windows between sleep passes.
    """

    def __init__(self, board, config, *, arch="parallel", n_pre=4, seed=1, rates=None,
                 timestep_rate=None, sleep_every=16):
        if not isinstance(config, RegulatorConfig):
            raise TypeError(f"config must be a RegulatorConfig, not {config!r}")
        if isinstance(n_pre, bool) or not isinstance(n_pre, int) or n_pre < 0:
            raise ValueError(f"n_pre must be a non-negative integer, not {n_pre!r}")
        if isinstance(sleep_every, bool) or not isinstance(sleep_every, int) or sleep_every < 1:
            raise ValueError(f"sleep_every must be a positive integer, not {sleep_every!r}")
        if timestep_rate is not None and not timestep_rate > 0:
            raise ValueError(f"timestep_rate must be positive, not {timestep_rate!r}")
        self.board = board
        self.config = config
        self.architecture = get_architecture(arch)
        if n_pre == 0 and not self.architecture.supports_no_weights:
            without = ", ".join(name for name, architecture in ARCHITECTURES.items()
                                if architecture.supports_no_weights)
            raise ValueError(f"the {arch} architecture needs a weight memory, so n_pre must be at "
                             f"least 1, not 0; only {without} builds without one")
        self.n_pre = n_pre
        self.seed = seed
        self.rates = default_rates(config) if rates is None else tuple(rates)
        self.timestep_rate = timestep_rate
        self.sleep_every = sleep_every

        # The parts, built by elaborate() and kept for testbenches to inspect.
        self.stimulus = None
        self.regulator = None
        self.weight_memory = None
        self.status = None

    def initial_weights(self):
        """Return the seeded initial weights, an ``(n_pre, n_neurons)`` int64 array."""
        config = self.config
        rng = np.random.default_rng(self.seed)
        return rng.integers(config.weight_min, config.weight_max + 1,
                            size=(self.n_pre, config.n_neurons))

    def timestep_cycles(self, clock_frequency):
        """Return the clock cycles per timestep at ``clock_frequency`` Hz."""
        if self.timestep_rate is None:
            cycles = round(clock_frequency / DEFAULT_TIMESTEP_RATE)
            return max(cycles, self.config.n_neurons + 1)
        cycles = round(clock_frequency / self.timestep_rate)
        if cycles < self.config.n_neurons + 1:
            raise ValueError(
                f"{self.config.n_neurons} neurons need at least {self.config.n_neurons + 1} "
                f"cycles per timestep, but {clock_frequency / 1e6:g} MHz at "
                f"{self.timestep_rate:g} timesteps/s gives {cycles}; lower the timestep rate")
        return cycles

    def elaborate(self, platform):
        m = Module()
        config = self.config
        n = config.n_neurons

        # Without a platform (in simulation) the clock is taken to run at 12 MHz.
        frequency = platform.default_clk_frequency if platform is not None else 12e6
        self.stimulus = stimulus = SpikeSource(
            n, rates=self.rates, seed=self.seed, timestep_cycles=self.timestep_cycles(frequency))
        m.submodules.stimulus = stimulus
        self.regulator = regulator = self.architecture.create(config, n_pre=self.n_pre)
        m.submodules.regulator = regulator
        self.architecture.connect_spikes(m, regulator, stimulus)

        if self.n_pre:
            self.weight_memory = weights = memory.Memory(
                shape=signed(config.weight_width), depth=self.n_pre * n,
                init=[int(w) for w in self.initial_weights().ravel()])
            m.submodules.weights = weights
            memory_read = weights.read_port()
            memory_write = weights.write_port()
            wiring.connect(m, regulator.weight_read, memory_read)
            wiring.connect(m, regulator.weight_write, memory_write)

        self.status = status = RegulationStatus(n)
        m.submodules.status = status
        m.d.comb += [
            status.window_done.eq(regulator.window_done),
            status.n_above.eq(regulator.n_above),
            status.n_below.eq(regulator.n_below),
        ]

        if self.n_pre:
            self._schedule_passes(m, platform, regulator)
        self._keep_outputs(m, regulator, self.architecture.kept_outputs)

        if platform is not None:
            self.board.connect_leds(m, platform, status)

        return m

    def _schedule_passes(self, m, platform, regulator):
        windows = Signal(range(self.sleep_every))
        scale_pending = Signal()
        sleep_pending = Signal()

        with m.If(regulator.window_done):
            with m.If(windows == self.sleep_every - 1):
                m.d.sync += [windows.eq(0), sleep_pending.eq(1)]
            with m.Else():
                m.d.sync += [windows.eq(windows + 1), scale_pending.eq(1)]

        if platform is not None and self.board.button is not None:
            button = io.Buffer("i", platform.request(self.board.button, 0, dir="-"))
            m.submodules.button = button
            cycles = max(1, round(platform.default_clk_frequency * BUTTON_DEBOUNCE_TIME))
            # The name sorts after cd_sync. Under a name that sorted first, Yosys named the
            # flattened clock net after the debouncer's clock port, and so did the reports.
            m.submodules.sleep_button = debouncer = Debouncer(cycles)
            m.d.comb += debouncer.button.eq(button.i)
            with m.If(debouncer.pressed):
                m.d.sync += sleep_pending.eq(1)

        idle = ~regulator.scale_busy & ~regulator.sleep_busy
        with m.If(idle & sleep_pending):
            m.d.comb += regulator.sleep_start.eq(1)
            m.d.sync += sleep_pending.eq(0)
        with m.Elif(idle & scale_pending):
            m.d.comb += regulator.scale_start.eq(1)
            m.d.sync += scale_pending.eq(0)

    def _keep_outputs(self, m, regulator, names):
        # Without these wires synthesis removes the logic that only the unread outputs need: a
        # 4-neuron parallel iCEstick design synthesised to 698 LUT4s with them and to 186
        # without.
        for name in names:
            value = getattr(regulator, name, None)
            if value is None:
                continue
            value = Value.cast(value)
            observed = Signal(len(value), name=f"observed_{name}", attrs={"keep": 1})
            m.d.comb += observed.eq(value)
