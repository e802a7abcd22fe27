// Breaks the rule: a template includes a host header.
#pragma once
#include "low/low.h"
#include "u.cuh"
