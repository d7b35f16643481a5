"""The two usage snippets of the homeostasis tutorial, run as a user types them.

Only the import lines differ from the tutorial: they import from ``homeo_hw.golden``.
"""

import re

import numpy as np


def run_regulator_snippet():
    from homeo_hw.golden import NetworkRegulator

    reg = NetworkRegulator(
        target_rate=0.1,  # target: 10% of neurons active per timestep
        threshold_step=0.01,  # how much to adjust thresholds per step
        lr_scale_range=(0.5, 2.0),  # allowed learning rate scaling range
    )

    # Simulated network state
    rng = np.random.default_rng(42)
    n_neurons = 128
    firing_rates = rng.random(n_neurons).astype(np.float32) * 0.3  # some too high
    thresholds = np.ones(n_neurons, dtype=np.float32)
    learning_rate = 0.001
    model_weights = [rng.standard_normal((64, 128)).astype(np.float32) * 0.1]

    # One regulation step
    new_thresholds, new_lr, metrics = reg.regulate(
        firing_rates, thresholds, learning_rate, weights=model_weights,
    )
    print(metrics.summary())
    return model_weights, metrics


def run_sleep_snippet(model_weights):
    from homeo_hw.golden import SleepConsolidation

    sleep = SleepConsolidation(
        decay_exponent=0.5,  # power-law synapse pruning
        duration_fraction=0.1,  # sleep duration as fraction of training
        consolidation_strength=0.8,
    )

    for epoch in range(100):
        # Normal training
        # train_one_epoch(model, data)

        # Check if it's time to sleep
        if sleep.should_sleep(epoch, total_epochs=100):
            model_weights = sleep.apply(model_weights)
            print(f"Epoch {epoch}: sleep consolidation applied")
            print(f"  Pruned {sleep.pruned_fraction:.1%} of synapses")
            print(f"  Remaining weight magnitude: {sleep.remaining_magnitude:.3f}")
    return model_weights


def test_regulator_snippet_prints_summary(capsys):
    _, metrics = run_regulator_snippet()
    output = capsys.readouterr().out
    lines = output.splitlines()
    assert output == metrics.summary() + "\n"
    assert len(lines) == 5
    assert lines[0].startswith("Mean rate: ")
    assert re.fullmatch(r"Neurons above target: \d+/128 \(\d+%\)", lines[1]), lines[1]
    assert re.fullmatch(r"Neurons below target: \d+/128 \(\d+%\)", lines[2]), lines[2]
    assert re.fullmatch(r"Threshold adjustment: [+-]\S+ mean \((raising to reduce activity|"
                        r"lowering to raise activity|unchanged)\)", lines[3]), lines[3]
    assert lines[4].startswith("LR scale: ")
    assert metrics.n_above + metrics.n_below == 128, "no rate of 128 random draws hits 0.1"


def test_sleep_snippet_sleeps_at_schedule(capsys):
    model_weights, _ = run_regulator_snippet()
    capsys.readouterr()
    original = [layer.copy() for layer in model_weights]
    final = run_sleep_snippet(model_weights)
    lines = capsys.readouterr().out.splitlines()

    epochs = [int(match[1]) for line in lines
              if (match := re.fullmatch(r"Epoch (\d+): sleep consolidation applied", line))]
    assert epochs == [9, 31, 99]
    pruned = [line for line in lines if re.fullmatch(r"  Pruned \d+\.\d% of synapses", line)]
    remaining = [line for line in lines
                 if re.fullmatch(r"  Remaining weight magnitude: \d\.\d{3}", line)]
    assert len(pruned) == 3
    assert len(remaining) == 3
    assert len(lines) == 9

    assert isinstance(final, list)
    assert final[0].shape == (64, 128)
    assert np.array_equal(model_weights[0], original[0]), "apply modified the caller's list"
    assert (np.abs(final[0]) <= np.abs(original[0])).all()
