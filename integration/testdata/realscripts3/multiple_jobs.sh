
#!/bin/bash                                                                                

## job name                                                                                
#PBS -N job_array_example                                                                                

## ten subjobs                                                                                
#PBS -J 1-10                                                                                

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


if (( $PBS_ARRAY_INDEX % 2 == 0 ))
then
     echo "I'm an even indexed job!"
else
    echo "I'm an odd indexed job!"

fi

echo "My job index is: $PBS_ARRAY_INDEX"

# Directives from BigelowLab/charlie Examples/multiple_jobs.sh (a blank first
# line, trailing blanks; adapted: -e/-o /home/vcc/output made output, a
# directory of the submit directory).
