// Batch stimulus loop for a CXXRTL simulation, compiled together with the generated design.
//
// `homeo_hw.cxxrtl` copies this file next to `design.cc` (the output of `write_cxxrtl`) and
// compiles both as one translation unit into a shared library. The library exports the CXXRTL C
// API (`cxxrtl_capi.h`, `cxxrtl_capi_vcd.h`) and `homeo_run`, which simulates many clock cycles in
// one foreign call so that the caller pays the call overhead once per batch, not once per cycle.

#define CXXRTL_INCLUDE_VCD_CAPI_IMPL
#include "design.cc"

#include <cstring>
#include <type_traits>

// The design's top module is `cxxrtl_design::p_top`, because `homeo_hw.cxxrtl` names it `top`.
// Calling it through its own type, not through the C API, lets the compiler inline `eval()` and
// `commit()` into the loop.
using top_module = cxxrtl_design::p_top;

// Whether the top module samples a `clk` input on its rising edge, which it detects by comparing
// `p_clk` with `prev_p_clk`.
template<class T, class = void>
struct samples_clk : std::false_type {};
template<class T>
struct samples_clk<T, std::void_t<decltype(std::declval<T &>().prev_p_clk)>> : std::true_type {};

// Lower the clock after a rising edge has been evaluated and committed. Nothing but the clock
// changes then, so a `commit()` would only copy the clock to `prev_p_clk`. When the module has
// that member, it is set directly, which saves comparing every wire once more.
static inline void lower_clock(cxxrtl_handle handle, top_module &top, cxxrtl_object *clock)
{
	clock->next[0] = 0;
	if constexpr (samples_clk<top_module>::value)
		top.prev_p_clk = top.p_clk;
	else
		cxxrtl_commit(handle);
}

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

// A valid/ready stream that the loop drives as a source. While transfers are left, `valid` is
// high and `payload` is transfer `sent` (its chunks at `data + sent * chunks`). A transfer
// takes place at a rising edge where `valid` and `ready` are both high. Its cycle is written to
// `accepted_cycles[sent]` (counted from 0 at the call), and `sent` advances. `ready` may depend
// combinationally on `valid` and `payload`.
struct homeo_stream {
	cxxrtl_object *valid;
	cxxrtl_object *payload;
	const cxxrtl_object *ready;
	const uint32_t *data;
	size_t count;
	size_t sent;
	uint64_t *accepted_cycles;
};

static inline void record(const homeo_output *outputs, size_t n_outputs, size_t n_records)
{
	for (size_t i = 0; i < n_outputs; i++) {
		const homeo_output &output = outputs[i];
		size_t chunks = (output.object->width + 31) / 32;
		std::memcpy(output.data + n_records * chunks, output.object->curr,
		            chunks * sizeof(uint32_t));
	}
}

// Simulate up to `cycles` clock cycles.
//
// Every cycle applies that cycle's inputs (and the stream's `valid` and `payload`). Then, if
// `n_strobes` is 0 or the least significant bit of one of the `strobes` is 1, it records the
// outputs and writes the cycle's index (counted from 0 at this call) to `record_cycles`. So a
// record contains the values that the coming rising edge samples: the state before the edge,
// and combinational signals computed from it and from the cycle's inputs. Then the clock rises
// and registers update, once per cycle.
//
// Without a VCD writer, one evaluation per cycle does both: CXXRTL computes the combinational
// signals and the registers' next values in the same `eval()`, and `commit()` makes the new state
// current. That needs a design whose `eval()` converges at once, which `write_cxxrtl` guarantees
// when the netlist has no feedback arcs. If an evaluation does not converge, the call stops
// after that cycle and returns with `*unsettled` set, because the values sampled at that edge may
// be stale. With a VCD writer, each half of the cycle is settled with `cxxrtl_step()` and sampled,
// at `*time` in VCD timescale units, which then advances by `half_period`.
//
// The call returns early, before starting a cycle, when `capacity` records have been written,
// and, if `until_sent` is set, when the stream has no transfers left. At the end it evaluates the
// design once more, without a clock edge and with the stream's `valid` low, so that
// combinational signals agree with the state after the last edge and no transfer is left
// offered. It returns the number of cycles simulated and stores the number of records in
// `*records`.
size_t homeo_run(cxxrtl_handle handle, cxxrtl_object *clock, size_t cycles,
                 const homeo_input *inputs, size_t n_inputs,
                 const homeo_output *outputs, size_t n_outputs,
                 const cxxrtl_object *const *strobes, size_t n_strobes,
                 uint64_t *record_cycles, size_t capacity,
                 size_t *records, homeo_stream *stream, int until_sent, int *unsettled,
                 cxxrtl_vcd vcd, uint64_t *time, uint64_t half_period)
{
	top_module &top = static_cast<top_module &>(*handle->module);
	cxxrtl::observer observer;
	size_t n_records = 0;
	size_t cycle = 0;
	*unsettled = 0;
	for (; cycle < cycles && n_records < capacity; cycle++) {
		if (until_sent && stream != nullptr && stream->sent == stream->count)
			break;
		for (size_t i = 0; i < n_inputs; i++) {
			const homeo_input &input = inputs[i];
			size_t chunks = (input.object->width + 31) / 32;
			std::memcpy(input.object->next, input.data + cycle * input.stride,
			            chunks * sizeof(uint32_t));
		}
		bool offered = false;
		if (stream != nullptr) {
			offered = stream->sent < stream->count;
			stream->valid->next[0] = offered;
			if (offered) {
				size_t chunks = (stream->payload->width + 31) / 32;
				std::memcpy(stream->payload->next, stream->data + stream->sent * chunks,
				            chunks * sizeof(uint32_t));
			}
		}

		if (vcd != nullptr) {
			clock->next[0] = 0;
			cxxrtl_step(handle);
			cxxrtl_vcd_sample(vcd, *time);
			*time += half_period;
		} else {
			clock->next[0] = 1;
			// A qualified call is not dispatched through the vtable, so it can be inlined.
			if (!top.top_module::eval())
				*unsettled = 1;
		}

		bool strobed = n_strobes == 0;
		for (size_t i = 0; i < n_strobes && !strobed; i++)
			strobed = (strobes[i]->curr[0] & 1) != 0;
		if (strobed) {
			record(outputs, n_outputs, n_records);
			record_cycles[n_records] = cycle;
			n_records++;
		}
		bool accepted = offered && (stream->ready->curr[0] & 1) != 0;

		if (vcd != nullptr) {
			clock->next[0] = 1;
			cxxrtl_step(handle);
			cxxrtl_vcd_sample(vcd, *time);
			*time += half_period;
		} else {
			top.commit(observer);
			lower_clock(handle, top, clock);
		}
		if (accepted) {
			if (stream->accepted_cycles != nullptr)
				stream->accepted_cycles[stream->sent] = cycle;
			stream->sent++;
		}
		if (*unsettled) {
			cycle++;
			break;
		}
	}
	if (stream != nullptr)
		stream->valid->next[0] = 0;
	clock->next[0] = 0;
	cxxrtl_step(handle);
	*records = n_records;
	return cycle;
}

}
