/* VortexC umbrella header: observable, routable, typed data transport,
 * wire-compatible with vortexpy 0.3.x. See docs/ and PROTOCOL.md. */
#ifndef VORTEXC_H
#define VORTEXC_H

#include "vortexc/error.h"
#include "vortexc/value.h"
#include "vortexc/tuple.h"
#include "vortexc/payload.h"
#include "vortexc/codec.h"
#include "vortexc/router.h"

/* The network layer (vortexc/node.h, vortexc/client.h) is included on its
 * own: it pulls in <uv.h>, which needs POSIX declarations (compile with
 * -std=gnu17 or define _POSIX_C_SOURCE=200809L), while the core above is
 * plain C17. */

#define VORTEXC_VERSION "0.1.0"

#endif
