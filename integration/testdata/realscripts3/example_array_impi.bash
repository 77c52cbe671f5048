#!/bin/bash --login

# job options
#PBS -N ArrayJob
#PBS -l select=16
#PBS -l walltime=4:0:0
#PBS -l place=scatter
#PBS -J 1-56

# a placeholder the user is meant to replace
#PBS -A [budget code]

cd ${PBS_O_WORKDIR}
module load intel-tools-18
mpirun -n 1536 -ppn 24 ./my_mpi_executable.x $PBS_ARRAY_INDEX
# Directives from EPCCed/tesseract-docs user-guide/example_array_impi.bash, unchanged.
