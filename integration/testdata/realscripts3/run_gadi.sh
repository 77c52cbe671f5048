#!/bin/bash
#PBS -P gx8
#PBS -q normal
#PBS -l walltime=24:00:00
#PBS -l mem=2GB
#PBS -l ncpus=1
#PBS -l software=bcbio
#PBS -l wd
#PBS -l storage=gdata/gx8
ulimit -n 4096
bcbio_nextgen.py -n 96 -q normal -s pbspro
# Directives from umccr/workflows configurations/run_gadi.sh, unchanged.
