# amaranth: UnusedElaboratable=no
"""Synaptic scaling with classes read from the time-multiplexed regulator's state memory."""

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, signed
from amaranth.lib import memory

from homeo_hw.config import RegulatorConfig
from homeo_hw.golden import IntegerRegulator, prune_weights
from homeo_hw.tdm_regulator import TDMPlasticRegulator, TDMRegulator
from homeo_hw.tdm_synaptic_scaler import TDMSynapticScaler
from tests.sim import assert_array_equal, read_memory, run_simulation


class ScalingSystem(Elaboratable):
    """A TDMRegulator, a TDMSynapticScaler on its readout port, and a weight memory."""

    def __init__(self, config, weights):
        self.regulator = TDMRegulator(config)
        self.scaler = TDMSynapticScaler(config, weights.shape[0],
                                        response_latency=self.regulator.threshold_read_latency)
        self.weights = memory.Memory(shape=signed(config.weight_width), depth=weights.size,
                                     init=weights.reshape(-1).tolist())

    def elaborate(self, platform):
        m = Module()
        m.submodules.regulator = regulator = self.regulator
        m.submodules.scaler = scaler = self.scaler
        m.submodules.weights = weights = self.weights
        read_port = weights.read_port()
        write_port = weights.write_port()
        m.d.comb += [
            regulator.threshold_request.valid.eq(scaler.class_request.valid),
            regulator.threshold_request.payload.eq(scaler.class_request.payload),
            scaler.class_request.ready.eq(regulator.threshold_request.ready),
            scaler.class_valid.eq(regulator.readout_valid),
            scaler.class_response.eq(regulator.readout),
            read_port.addr.eq(scaler.read.addr),
            read_port.en.eq(scaler.read.en),
            scaler.read.data.eq(read_port.data),
            write_port.addr.eq(scaler.write.addr),
            write_port.data.eq(scaler.write.data),
            write_port.en.eq(scaler.write.en),
        ]
        return m


def config_for(n_neurons):
    return RegulatorConfig(n_neurons=n_neurons, window=8, counter_width=5, target_count=3,
                           margin=1, threshold_width=8, threshold_frac_bits=4,
                           threshold_floor=10, threshold_ceiling=40, threshold_init=25,
                           threshold_step=4, weight_width=6, scale_shift=2)


def run_scaling(config, weights, timesteps, *, start_during_sweep):
    """Count ``timesteps`` of spikes, then run one scaling pass; return what the test checks.

    With ``start_during_sweep``, ``start`` rises in the cycle after the mark that ends the last
    window, and events stay offered during the pass.
    """
    system = ScalingSystem(config, weights)
    regulator, scaler = system.regulator, system.scaler
    events = []
    for step in timesteps:
        events += [(int(index), 0) for index in step] + [(0, 1)]
    extra = [(index % config.n_neurons, 0) for index in range(20)]
    observed = {"accepted_while_requesting": 0, "busy_cycles": 0}

    async def bench(ctx):
        queue = list(events) + (extra if start_during_sweep else [])
        started = False
        marks = 0
        done = False
        cycle = 0
        while not done:
            offer = bool(queue) and (start_during_sweep or marks < len(timesteps))
            if offer:
                ctx.set(regulator.events.payload.neuron, queue[0][0])
                ctx.set(regulator.events.payload.timestep_end, queue[0][1])
            ctx.set(regulator.events.valid, offer)
            ready = ctx.get(regulator.events.ready)
            observed["busy_cycles"] += ctx.get(scaler.busy)
            if offer and ready and ctx.get(scaler.class_request.valid):
                observed["accepted_while_requesting"] += 1
            if ctx.get(scaler.done):
                done = True
            if not started and marks == len(timesteps) and (
                    start_during_sweep or ctx.get(regulator.window_done)):
                ctx.set(scaler.start, 1)
                started = True
            else:
                ctx.set(scaler.start, 0)
            if offer and ready:
                marks += queue.pop(0)[1]
            await ctx.tick()
            cycle += 1
            assert cycle < 20 * (len(events) + weights.size + 100), "the pass never finished"
        observed["weights"] = read_memory(ctx, system.weights, weights.shape)

    run_simulation(system, bench)
    return observed


@pytest.mark.parametrize("start_during_sweep", [False, True])
@pytest.mark.parametrize("n_neurons, n_pre", [(5, 3), (8, 4)])
def test_scaling_matches_golden(n_neurons, n_pre, start_during_sweep):
    config = config_for(n_neurons)
    rng = np.random.default_rng(n_neurons + n_pre)
    weights = rng.integers(config.weight_min, config.weight_max + 1, size=(n_pre, n_neurons))
    weights[0, :2] = [config.weight_min, config.weight_max]
    # Neurons fire at different rates, so that every class occurs.
    rates = np.linspace(0.0, 1.0, n_neurons)
    timesteps = [np.flatnonzero(rng.random(n_neurons) < rates).tolist()
                 for _ in range(2 * config.window)]

    observed = run_scaling(config, weights, timesteps, start_during_sweep=start_during_sweep)

    model = IntegerRegulator(config)
    for step in timesteps:
        model.step_events(step)
    assert set(model.state.classes.tolist()) == {-1, 0, 1}
    expected = model.scale_weights(weights)
    assert_array_equal(observed["weights"], expected, field="scaled weights",
                       context=f"{n_pre} x {n_neurons} weights", axes=("pre", "post"))
    assert observed["accepted_while_requesting"] == 0


def test_pass_cycles():
    config = config_for(5)
    weights = np.arange(15).reshape(3, 5) - 7
    observed = run_scaling(config, weights, [[0]] * config.window, start_during_sweep=False)
    latency = TDMRegulator(config).threshold_read_latency
    scaler = TDMSynapticScaler(config, 3, response_latency=latency)
    assert observed["busy_cycles"] == scaler.pass_cycles


def test_parameters_rejected():
    config = config_for(5)
    with pytest.raises(TypeError, match=r"config must be a RegulatorConfig, not 5"):
        TDMSynapticScaler(5, 3, response_latency=5)
    with pytest.raises(TypeError, match=r"n_pre must be an integer, not 3\.0"):
        TDMSynapticScaler(config, 3.0, response_latency=5)
    with pytest.raises(ValueError, match=r"n_pre must be at least 1, not 0"):
        TDMSynapticScaler(config, 0, response_latency=5)
    with pytest.raises(ValueError, match=r"response_latency must be at least 1 cycle, not 0"):
        TDMSynapticScaler(config, 3, response_latency=0)


class PlasticSystem(Elaboratable):
    """A TDMPlasticRegulator with a weight memory on its weight ports."""

    def __init__(self, config, weights):
        self.regulator = TDMPlasticRegulator(config, n_pre=weights.shape[0])
        self.weights = memory.Memory(shape=signed(config.weight_width), depth=weights.size,
                                     init=weights.reshape(-1).tolist())

    def elaborate(self, platform):
        m = Module()
        m.submodules.regulator = regulator = self.regulator
        m.submodules.weights = weights = self.weights
        read_port = weights.read_port()
        write_port = weights.write_port()
        m.d.comb += [
            read_port.addr.eq(regulator.weight_read.addr),
            read_port.en.eq(regulator.weight_read.en),
            regulator.weight_read.data.eq(read_port.data),
            write_port.addr.eq(regulator.weight_write.addr),
            write_port.data.eq(regulator.weight_write.data),
            write_port.en.eq(regulator.weight_write.en),
        ]
        return m


def test_plastic_regulator_scales_then_sleeps():
    # Two windows of spikes, a scaling pass, then a sleep pass, through one weight memory.
    # Outside threshold requests are offered throughout and must get only their own responses.
    config = config_for(6)
    n_pre = 3
    rng = np.random.default_rng(11)
    weights = rng.integers(config.weight_min, config.weight_max + 1, size=(n_pre, 6))
    rates = np.linspace(0.0, 1.0, 6)
    timesteps = [np.flatnonzero(rng.random(6) < rates).tolist() for _ in range(2 * config.window)]
    system = PlasticSystem(config, weights)
    regulator = system.regulator
    observed = {}

    async def bench(ctx):
        events = []
        for step in timesteps:
            events += [(index, 0) for index in step] + [(0, 1)]
        requests = []
        readouts = []
        phase = "events"
        cycle = 0
        while phase != "finished":
            # Events first, then outside threshold requests every third cycle.
            offer = bool(events)
            if offer:
                ctx.set(regulator.events.payload.neuron, events[0][0])
                ctx.set(regulator.events.payload.timestep_end, events[0][1])
            ctx.set(regulator.events.valid, offer)
            request_neuron = cycle % 6
            ctx.set(regulator.threshold_request.valid, cycle % 3 == 0)
            ctx.set(regulator.threshold_request.payload, request_neuron)
            if cycle % 3 == 0 and ctx.get(regulator.threshold_request.ready):
                requests.append((request_neuron, cycle))
            if ctx.get(regulator.readout_valid):
                readouts.append(cycle)
            if offer and ctx.get(regulator.events.ready):
                events.pop(0)

            # The passes: scaling after the last window, sleep after scaling.
            ctx.set(regulator.scale_start, phase == "scale")
            ctx.set(regulator.sleep_start, phase == "sleep")
            if phase == "events" and not events and ctx.get(regulator.window_done):
                phase = "scale"
            elif phase == "scale":
                phase = "scaling"
            elif phase == "scaling" and ctx.get(regulator.scale_done):
                observed["scaled"] = read_memory(ctx, system.weights, weights.shape)
                phase = "sleep"
            elif phase == "sleep":
                phase = "sleeping"
            elif phase == "sleeping" and ctx.get(regulator.sleep_done):
                phase = "finished"
            await ctx.tick()
            cycle += 1
            assert cycle < 5000, f"stuck in phase {phase}"
        # Collect the responses to the last requests.
        ctx.set(regulator.threshold_request.valid, 0)
        for _ in range(regulator.regulator.threshold_read_latency + 1):
            if ctx.get(regulator.readout_valid):
                readouts.append(cycle)
            await ctx.tick()
            cycle += 1
        observed["slept"] = read_memory(ctx, system.weights, weights.shape)
        observed["pruned"] = ctx.get(regulator.pruned)
        observed["latencies"] = [response - request for (_, request), response
                                 in zip(requests, readouts, strict=False)]
        observed["counts"] = (len(requests), len(readouts))

    run_simulation(system, bench)

    model = IntegerRegulator(config)
    for step in timesteps:
        model.step_events(step)
    scaled = model.scale_weights(weights)
    assert_array_equal(observed["scaled"], scaled, field="scaled weights", context="scaling",
                       axes=("pre", "post"))
    slept = prune_weights(scaled, config)
    assert_array_equal(observed["slept"], slept.weights, field="slept weights", context="sleep",
                       axes=("pre", "post"))
    assert observed["pruned"] == slept.pruned
    accepted, answered = observed["counts"]
    assert accepted == answered
    assert set(observed["latencies"]) == {regulator.regulator.threshold_read_latency}
