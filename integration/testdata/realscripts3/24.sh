#!/bin/bash 

#PBS -N rs4-24
#-- mail at the end ("e") or on an abort ("a")
#PBS -m ae
#PBS -M eshi@pppl.gov 
#PBS -l nodes=1:ppn=1 
#PBS -l mem=4gb 
#PBS -l walltime=32:00:00
#PBS -r n
#PBS -V 
#PBS -j oe 
 
CMD="./gkeyllser -i 24.lua -pc_type lu" 
cd $PBS_O_WORKDIR 
$CMD 
exit
# Directives from ammarhakim/gkeyll-sims eric/test4d/etg/ratioScan4/24.sh (trailing
# blanks kept; adapted: the solver's path made ./gkeyllser, a stand-in the test writes).
