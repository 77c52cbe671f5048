#!/bin/bash --login

# job options
#PBS -N ArrayJob
#PBS -l select=1
#PBS -l walltime=4:0:0
#PBS -l place=scatter
#PBS -J 1-5

# the budget code
#PBS -A t01

cd ${PBS_O_WORKDIR}
echo "index $PBS_ARRAY_INDEX of $PBS_JOBID in $PWD" > ArrayJob.$PBS_ARRAY_INDEX
# Directives from EPCCed/tesseract-docs user-guide/example_array_impi.bash
# (adapted: select=16 made 1, -J 1-56 made 1-5, the budget code filled in as
# its comment asks; module and mpirun lines made an echo).
