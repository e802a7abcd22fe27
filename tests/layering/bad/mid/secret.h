// Private to the mid layer.
#pragma once
