#!/bin/sh
# batch script
#PBS -e error
#PBS -N rumi-64-192-22r
#PBS -q batch 
#PBS -l walltime=23:59:00
#PBS -t 0-15
### mail on abort, begin and end
#PBS -m abe
### to
#PBS -M hsn.hadipour@gmail.com

cd $PBS_O_WORKDIR
./rumi-64-192-22r ${PBS_ARRAYID}






# Directives from hadipourh/Boomerang SKINNY-64-192-I/SKINNY-64-192-I-22-Rounds/BMD3/ExperimentalVerification/LinuxServer/jobrumi-64-192-22r.sh
# (adapted: -t 0-256 made 0-15 for a shared test machine; ./rumi-64-192-22r is a stand-in the test writes).
