
#!/bin/sh
#PBS -V # all of qsub's environment
#PBS -d . # run here
#PBS -q ptq # the queue
#PBS -l nodes=1:ppn=2 # one node, two CPUs
#PBS -l walltime=0:30:00 # half an hour
#PBS -A Research_Project-161613 # the account 
#PBS -m e -M jp492@exeter.ac.uk # mail at the end
python3 -c 'import os; print("isca", os.environ["PBS_JOBNAME"], os.environ["NCPUS"], os.getcwd())'
# Directives from ExeClim/Isca exp/test_cases_py/isca_job.sh (a blank first
# line, a comment after each directive, two options on one line; adapted:
# ppn=8 made 2, python example_basic.py made python3 -c).
