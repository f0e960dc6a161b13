from runner.dodo import *
