#!/bin/bash
one=$(qsub sim21/prod.pbs)
echo $one
two=$(qsub -W depend=afterany:$one sim22/prod.pbs)
echo $two
three=$(qsub -W depend=afterany:$two sim23/prod.pbs)
echo $three
four=$(qsub -W depend=afterany:$three sim24/prod.pbs)
echo $four
# From grshukla/ABA_project qsub.sh (its first four links of ten); the test
# writes each simNN/prod.pbs.
