#!/bin/sh
#PBS -l nodes=1:ppn=2
#PBS -q Q1
#PBS -j oe

cd $PBS_O_WORKDIR
./mpirun -machinefile $PBS_NODEFILE -np 2 ./test
exit 0 
# Directives from shin-shin-01/network_2020LatterPeriod mpi1/test.sh (adapted:
# nodes=2 made 1, -np 4 made 2; ./mpirun is a stand-in the test writes that
# runs ./test once per line of the machine file).
