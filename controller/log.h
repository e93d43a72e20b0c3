// The logger moved to common/log.h (below every module, so switch drivers log through it too);
// this header keeps existing includes working.
#ifndef PULSE_CONTROLLER_LOG_H_
#define PULSE_CONTROLLER_LOG_H_

#include "common/log.h"

#endif  // PULSE_CONTROLLER_LOG_H_
