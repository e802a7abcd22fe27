// high is above mid and low.
#pragma once
