#PBS -lselect=1:ncpus=1:mem=20mb
#PBS -lwalltime=01:00:00
#PBS -J 0-2

# the subjob's index

## each subjob on its own
env_name="env_${PBS_ARRAY_INDEX}"

# where qsub ran
cd $PBS_O_WORKDIR

# one run per index
echo "--jobid=$PBS_ARRAY_INDEX env=$env_name" > run_$PBS_ARRAY_INDEX.txt
# Directives from barneydobson/swmmanywhere_paper src/submit_newenv.sh (getopt's
# attached values, no #! line; adapted: mem=20gb made 20mb, the python
# experiment made an echo).
