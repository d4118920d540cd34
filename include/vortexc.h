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
#include "vortexc/node.h"
#include "vortexc/client.h"

#define VORTEXC_VERSION "0.1.0"

#endif
