// Batch stimulus loop for a CXXRTL simulation, compiled together with the generated design.
//
// `homeo_hw.cxxrtl` copies this file next to `design.cc` (the output of `write_cxxrtl`) and
// compiles both as one translation unit into a shared library. The library exports the CXXRTL C
// API (`cxxrtl_capi.h`, `cxxrtl_capi_vcd.h`) and `homeo_run`, which simulates many clock cycles in
// one foreign call so that the caller pays the call overhead once per batch, not once per cycle.

#define CXXRTL_INCLUDE_VCD_CAPI_IMPL
#include "design.cc"

#include <cstring>

extern "C" {

// Per-cycle values of one input port. Cycle `c` reads the `(width + 31) / 32` chunks at
// `data + c * stride`; a stride of 0 holds the same value on every cycle.
struct homeo_input {
	cxxrtl_object *object;
	const uint32_t *data;
	size_t stride;
};

// Destination of one recorded output port: record `r` is written to the
// `(width + 31) / 32` chunks at `data + r * chunks`.
struct homeo_output {
	cxxrtl_object *object;
	uint32_t *data;
};

// Simulate up to `cycles` clock cycles.
//
// Every cycle applies that cycle's inputs with the clock low and settles the design. Then, if
// `strobe` is NULL or its least significant bit is 1, it records the outputs and writes the
// cycle's index (counted from 0 at this call) to `record_cycles`. So a record holds the values
// that the coming rising edge samples: the state before the edge, and combinational signals
// computed from it and from the cycle's inputs. Then the clock rises and the design settles
// again, so registers update once per cycle. When a VCD writer is given, it samples after each
// half of the cycle, at `*time` in VCD timescale units, and advances `*time` by `half_period`.
//
// The call returns early, before starting a cycle, when `capacity` records have been written.
// At the end it evaluates the design once more, without a clock edge, so that combinational
// signals agree with the state after the last edge. It returns the number of cycles simulated
// and stores the number of records in `*records`.
size_t homeo_run(cxxrtl_handle handle, cxxrtl_object *clock, size_t cycles,
                 const homeo_input *inputs, size_t n_inputs,
                 const homeo_output *outputs, size_t n_outputs,
                 const cxxrtl_object *strobe, uint64_t *record_cycles, size_t capacity,
                 size_t *records, cxxrtl_vcd vcd, uint64_t *time, uint64_t half_period)
{
	size_t n_records = 0;
	size_t cycle = 0;
	for (; cycle < cycles && n_records < capacity; cycle++) {
		for (size_t i = 0; i < n_inputs; i++) {
			const homeo_input &input = inputs[i];
			size_t chunks = (input.object->width + 31) / 32;
			std::memcpy(input.object->next, input.data + cycle * input.stride,
			            chunks * sizeof(uint32_t));
		}

		clock->next[0] = 0;
		cxxrtl_step(handle);
		if (vcd != nullptr) {
			cxxrtl_vcd_sample(vcd, *time);
			*time += half_period;
		}

		if (strobe == nullptr || (strobe->curr[0] & 1) != 0) {
			for (size_t i = 0; i < n_outputs; i++) {
				const homeo_output &output = outputs[i];
				size_t chunks = (output.object->width + 31) / 32;
				std::memcpy(output.data + n_records * chunks, output.object->curr,
				            chunks * sizeof(uint32_t));
			}
			record_cycles[n_records] = cycle;
			n_records++;
		}

		clock->next[0] = 1;
		cxxrtl_step(handle);
		if (vcd != nullptr) {
			cxxrtl_vcd_sample(vcd, *time);
			*time += half_period;
		}
	}
	cxxrtl_step(handle);
	*records = n_records;
	return cycle;
}

}
