#!/bin/sh
# A shell "training script" for `hyperdial agent`: the Branin function of the
# parameters x0 and x1, read from the environment, printed as a final metric line.
#
#   hyperdial agent --study branin -- sh examples/branin.sh
awk -v x="$HYPERDIAL_PARAM_X0" -v y="$HYPERDIAL_PARAM_X1" 'BEGIN {
    pi = atan2(0, -1)
    b = 5.1 / (4 * pi * pi); c = 5 / pi; t = 1 / (8 * pi)
    value = (y - b * x * x + c * x - 6) ^ 2 + 10 * (1 - t) * cos(x) + 10
    printf "hyperdial: final objective=%.10f\n", value
}'
