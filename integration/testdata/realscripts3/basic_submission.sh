#!/bin/bash                                                                                

## job name                                                                                
#PBS -N script_name                                                                                

## all of qsub's environment
#PBS -V

## queue                                                                                
#PBS -q route                                                                                

## ten minutes
#PBS -l walltime=00:10:00 

## one CPU                                                                                
#PBS -l select=1:ncpus=1                                                                                
                                                                                
## a directory for both files
#PBS -e output                                                                                
#PBS -o output                                                                                


## the work                                                                                
echo start
/bin/sleep 1
echo finished
# Directives from BigelowLab/charlie Examples/basic_submission.sh (adapted:
# -e/-o /home/vcc/output made output; sleep 10 made 1).
