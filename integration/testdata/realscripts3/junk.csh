#!/bin/csh -f
#PBS -N test-aqf-Final
#PBS -q forecast
#PBS -l nodes=1
#PBS -l walltime=12:00:00
#PBS -k oe
#PBS -j oe
#PBS -m abe
#PBS -M v.singh3@herts.ac.uk,x.francis@herts.ac.uk


echo -n 'Job is running on node(s) '; cat $PBS_NODEFILE
echo PBS_JOBID       = $PBS_JOBID

cd $PBS_O_WORKDIR

setenv MPIRUN /usr/local/bin/mpiexec

echo Job terminated
# Directives from aidanfarrow/aqfs_farrow junk.csh (its banner lines left out).
# There is no csh here: the job fails as it would under PBS on such a host,
# the shell's complaint in its kept output file.
