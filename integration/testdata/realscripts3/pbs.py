#!/usr/bin/env python3
#PBS -p 1 
#PBS -j oe
#PBS -J 1-9

import os

# the seed is the index
seed = os.getenv('PBS_ARRAY_INDEX')

# the command
query = 'echo seed '+os.getenv('I') + seed

# run it
os.system(query)
# Directives from KabirDabholkar/tripartiteSynapse mcell/final/pbs.py (adapted:
# #!/usr/bin/python, absent here, made /usr/bin/env python3; the python
# command made an echo; -J 1-90 made 1-9). I comes from qsub -v.
