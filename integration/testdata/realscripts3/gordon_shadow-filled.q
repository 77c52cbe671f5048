#!/bin/sh
#
#PBS -q normal
#PBS -m n
#PBS -A ddp140
#PBS -W umask=0022
#PBS -o panfish.out
#PBS -e panfish.err
#PBS -V
#PBS -l nodes=1:ppn=2,walltime=12:00:00
#PBS -N panfish_job
#PBS -d sub

/usr/bin/time -p ./run_job.sh job.file
# Directives from CRBS/Panfish properties/idoerg.templates/gordon_shadow.q, its
# @...@ filled in as Panfish fills them (adapted: ppn=16 made 2; the job
# script is a stand-in the test writes in sub).
