/* internal.h — every private header of the core, for the files that need
 * many of them (and for tests and benchmarks that drive internals).
 *
 * Nothing outside core/ (and its tests) may include these. Each concept has
 * its own header; a core file includes the ones it uses:
 *   buf.h            byte buffer and arena (buf.c)
 *   span_data.h      the finished-span record and the process (span.c)
 *   context.h        the span context layout (context.c)
 *   process_state.h  ids and clock state reset at fork (ids.c, clock.c)
 *   counters.h       the tracer's live counters
 *   config.h         struct tw_config (config.c, config_keys.h)
 *   sampler.h        the sampler (sampler.c)
 *   reporter.h       reporter interface, factory, memory and pipeline reporters
 *   exporter.h       the exporter interface and its four implementations
 *   encoders.h       Thrift, OTLP JSON, log-line encoders (otlp_proto.h: protobuf)
 *   transport.h      UDP socket, HTTP over libcurl
 *   propagation.h    inject/extract, per-format parsers and injectors
 *   text.h           percent-encoding, hex, token helpers (text.c)
 *   diag.h           the diagnostics rate limiter (diag.c)
 *   sampling_poll.h  remote-sampling polling on the reporter thread
 * Internal names: twp_ prefix.
 */
#ifndef TW_INTERNAL_H
#define TW_INTERNAL_H

#include "buf.h"
#include "span_data.h"
#include "context.h"
#include "process_state.h"
#include "counters.h"
#include "config.h"
#include "sampler.h"
#include "reporter.h"
#include "encoders.h"
#include "transport.h"
#include "propagation.h"
#include "text.h"

#include <pthread.h>

#endif /* TW_INTERNAL_H */
