#!/bin/bash -l

#PBS -P es60
#PBS -q normal
#PBS -l walltime=5:00:00
#PBS -l mem=190MB
#PBS -l ncpus=2
#PBS -l jobfs=400GB
#PBS -l wd
#PBS -l storage=scratch/es60+gdata/es60
#PBS -j oe

gzip iquod.tar
# Directives from CARSv2/cars-v2 src/features/gzip.sh (adapted: mem=190GB
# made 190MB, ncpus=48 made 2, the path of the file to compress).
