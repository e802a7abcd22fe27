// Breaks the rule: a low layer includes a higher one.
#pragma once
#include "high/high.h"
